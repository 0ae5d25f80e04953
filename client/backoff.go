package client

import (
	"errors"
	"math/rand/v2"
	"time"

	"parley/protocol"
)

// delay returns the wait before reconnection attempt n (0-based) after the
// session ended with cause: exponential with full jitter, at least Min/2;
// Max when the server asked not to be hammered (close 4000 or 4004).
func (b Backoff) delay(n int, cause error) time.Duration {
	var ce *protocol.CloseError
	if errors.As(cause, &ce) && (ce.Code == protocol.CloseProtocolError || ce.Code == protocol.CloseRemoved) {
		return b.Max
	}
	ceil := b.Min
	for i := 0; i < n && ceil < b.Max; i++ {
		ceil *= 2
	}
	ceil = min(ceil, b.Max)
	lo := b.Min / 2
	if ceil <= lo {
		return lo
	}
	return lo + rand.N(ceil-lo+1)
}
