package client

import (
	"errors"
	"math/rand/v2"
	"time"

	"parley/protocol"
)

// ServerFullRetry is how long a Client waits (with jitter, from half of it)
// before dialing a server that refused it as full again, as the server's
// Retry-After asks; never longer than Backoff.Max.
const ServerFullRetry = 5 * time.Second

// delay returns the wait before reconnection attempt n (0-based) after the
// session ended with cause: exponential with full jitter, at least Min/2;
// Max when the server asked not to be hammered (close 4000 or 4004);
// ServerFullRetry (jittered) when the server was full.
func (b Backoff) delay(n int, cause error) time.Duration {
	var ce *protocol.CloseError
	if errors.As(cause, &ce) && (ce.Code == protocol.CloseProtocolError || ce.Code == protocol.CloseRemoved) {
		return b.Max
	}
	if errors.Is(cause, ErrServerFull) {
		d := min(ServerFullRetry, b.Max)
		return d/2 + rand.N(d/2+1)
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
