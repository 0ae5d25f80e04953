package client

import (
	"context"
	"errors"
	"io"

	"parley/protocol"
)

// Conn is one session with a server as a transport provides it: the
// control channel, image uploads, image fetches and typing datagrams.
// Implementations: WebTransport and WebSocket (native build, transport_*.go)
// and the browser's WebTransport and WebSocket (js/wasm build). A Conn is
// used by the Client from several goroutines: Send, Upload, Fetch and
// SendDatagram may be called concurrently; Recv and RecvDatagram each by
// one goroutine.
type Conn interface {
	// Send writes control frames in order. Each element is one frame's
	// JSON text without a line feed.
	Send(frames ...[]byte) error
	// Recv returns the next message from the server's control channel: a
	// frame's JSON text, or, when binary is true (WebSocket only), a fetch
	// answer (header line, line feed, bytes).
	Recv() (data []byte, binary bool, err error)
	// Upload sends an image upload: header is the image frame's JSON text
	// (without line feed), then exactly size bytes from body.
	Upload(ctx context.Context, header []byte, body io.Reader, size int64) error
	// Fetch opens a fetch stream carrying req (the fetch frame's JSON text)
	// and returns the stream to read the answer from. Transports without
	// streams (WebSocket) return ErrFetchOnControl: the client then sends
	// the fetch on the control channel with an id.
	Fetch(ctx context.Context, req []byte) (io.ReadCloser, error)
	// SendDatagram sends a typing frame, best effort. Transports without
	// datagrams send it on the control channel.
	SendDatagram(frame []byte) error
	// RecvDatagram returns the next datagram. Transports without datagrams
	// block until the Conn is closed and then return an error (their typing
	// events arrive through Recv).
	RecvDatagram(ctx context.Context) ([]byte, error)
	// Close ends the session with a close code.
	Close(code protocol.CloseCode, reason string) error
	// Kind names the transport: "webtransport", "websocket" or "inprocess".
	Kind() string
}

// Dialer opens sessions to one server.
type Dialer interface {
	// Dial opens a session. A failure to reach the server is returned as
	// is; a session closed by the server with a code is a
	// *protocol.CloseError.
	Dial(ctx context.Context) (Conn, error)
}

// ErrFetchOnControl is returned by Conn.Fetch for transports that carry
// fetches on the control channel.
var ErrFetchOnControl = errors.New("client: fetch goes on the control channel")
