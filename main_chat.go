package main

import (
	"context"
	"errors"
	"io"
)

// runChat runs `parley chat`.
func runChat(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return errors.New("parley chat is not in this build yet")
}
