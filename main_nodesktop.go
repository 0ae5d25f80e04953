//go:build !desktop

package main

import "errors"

// runDesktop is the desktop app; this build has none.
func runDesktop() error {
	return errors.New("this is the server-only build; use `parley serve`, or build with -tags desktop")
}
