//go:build js && wasm

package main

import (
	"context"
	"errors"
	"time"

	"parley/client"
	"parley/protocol"
)

// Retrying the first dial to the page's own server.
const (
	// FirstDialRetry is how long Connect keeps dialing the server that
	// served the page when it cannot be reached: it served the page a
	// moment ago, so it is most likely restarting. Meanwhile the UI shows
	// the cached past as "connecting". Within bridge.DialTimeout.
	FirstDialRetry = 15 * time.Second
	// firstDialBackoff is the first pause between attempts; it doubles up
	// to firstDialBackoffMax.
	firstDialBackoff    = 250 * time.Millisecond
	firstDialBackoffMax = 2 * time.Second
)

// retryDial calls dial until it succeeds, fails for a reason that another
// attempt would not change (see retryable), ctx ends, or the next attempt
// would start after within. It returns the last attempt's result.
func retryDial(ctx context.Context, within time.Duration, dial func(context.Context) (*client.Client, error)) (*client.Client, error) {
	deadline := time.Now().Add(within)
	wait := firstDialBackoff
	for {
		cl, err := dial(ctx)
		if err == nil || !retryable(err) || ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			return cl, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
		wait = min(2*wait, firstDialBackoffMax)
	}
}

// retryable says whether a failed dial may succeed when tried again: the
// server could not be reached. An answer from the server (a protocol
// error such as name_taken, a close code, "full") is final.
func retryable(err error) bool {
	var ce *protocol.CloseError
	return protocol.CodeOf(err) == "" && !errors.As(err, &ce) && !errors.Is(err, client.ErrServerFull) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}
