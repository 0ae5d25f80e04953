package server

import (
	"context"
	"io"

	"parley/protocol"
)

// conn is one client session as a transport adapter gives it to the core
// (transport_webtransport.go, transport_websocket.go; the in-process
// transport is the WebSocket adapter over memory). The core calls
// ReadControl from the session's reader goroutine only, WriteFrames from
// its writer goroutine only; the other methods may be called from any
// goroutine.
type conn interface {
	// ReadControl returns the next message of the control channel: a
	// frame's JSON text without its line feed (valid until the next call),
	// or, over WebSocket, a binary message (an image upload) as upload,
	// which the caller reads to its end before calling ReadControl again.
	// A text over protocol.MaxFrameJSON bytes yields
	// protocol.ErrFrameTooLarge with its first bytes.
	ReadControl(ctx context.Context) (text []byte, upload io.Reader, err error)
	// WriteFrames writes encoded frames (each JSON text plus line feed), in
	// order, coalesced into as few writes as the transport allows.
	WriteFrames(frames [][]byte) error
	// CloseControl ends the server's side of the control channel, after the
	// frames written so far, so the client reads them before a close.
	CloseControl()
	// AcceptUpload returns the next upload stream (WebTransport
	// unidirectional stream). Transports without streams block until ctx
	// ends or the session closes.
	AcceptUpload(ctx context.Context) (recvStream, error)
	// AcceptFetch returns the next fetch stream (WebTransport bidirectional
	// stream after the control stream); as AcceptUpload otherwise.
	AcceptFetch(ctx context.Context) (bidiStream, error)
	// WriteBinary writes a WebSocket fetch answer: head (a JSON text
	// without line feed), a line feed, then size bytes of body, as one
	// binary message. Only for transports without streams.
	WriteBinary(ctx context.Context, head []byte, body io.Reader, size int64) error
	// Datagrams reports whether typing travels as datagrams (else as frames).
	Datagrams() bool
	// SendDatagram sends one datagram, best effort.
	SendDatagram(b []byte) error
	// ReceiveDatagram returns the next datagram.
	ReceiveDatagram(ctx context.Context) ([]byte, error)
	// Close ends the session with a close code. It is safe to call more than once.
	Close(code protocol.CloseCode, reason string)
	// Done is closed when the session is gone (closed by either side).
	Done() <-chan struct{}
	// Kind names the transport: "webtransport", "websocket" or "inprocess".
	Kind() string
	// RemoteAddr names the peer for logs.
	RemoteAddr() string
}

// recvStream is an incoming unidirectional stream.
type recvStream interface {
	io.Reader
	// Cancel stops reading (the peer's writes fail).
	Cancel()
}

// bidiStream is an incoming bidirectional stream.
type bidiStream interface {
	io.ReadWriter
	// Close ends the server's side after what was written.
	Close() error
	// Cancel abandons the stream in both directions.
	Cancel()
}
