package client

import (
	"context"

	"parley/protocol"
)

// SayWithNonce sends a say with a chosen nonce, for tests of re-sends.
func SayWithNonce(ctx context.Context, c *Client, room, text, nonce string) (Sent, error) {
	f := &protocol.Frame{Type: protocol.TypeSay, Room: room, Text: text, Nonce: nonce}
	a, err := c.do(ctx, f, reqOpts{resend: true, onAnswer: c.ackLocked(room, "")})
	if err != nil {
		return Sent{}, err
	}
	return sentOf(a.f), nil
}
