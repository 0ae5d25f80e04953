// Package client is Parley's Go client library: it dials a server
// (WebTransport, falling back to WebSocket), completes hello and auth,
// joins rooms, sends messages and images, fetches images, and reports what
// happens as Events. It reconnects by itself with exponential backoff and
// jitter and resumes without loss: rooms are re-joined with since, private
// conversations that moved are paged with history since, messages are
// de-duplicated by seq, and requests that were never answered are sent
// again with their nonce. A resuming request the server fails is never
// skipped silently: rate_limited is retried on the session after a
// backoff; any other error is reported as an EventError, and internal ends
// the session so that the next one resumes from the same seq. A private
// message carrying another epoch than the one known for its conversation
// (a guest's conversation restarted under a reused name) starts that
// conversation over, as an epoch change does.
//
// The same package compiles to WebAssembly (GOOS=js): the native
// transports (transport_webtransport.go, transport_websocket.go) carry the
// !js build tag; the browser's live in *_js.go files.
//
// # Concurrency
//
// Every exported method of Client is safe for concurrent use. Per session
// the client runs one reader goroutine (it routes answers to waiting
// requests and turns events into Events, in stream order), one writer
// goroutine (it coalesces queued control frames into one Conn.Send), one
// datagram reader and, on a native WebTransport session, one pinger (a
// padded ping datagram every Config.PingEvery, so that a crashed and
// restarted server's stateless reset is drawn even from a client that only
// listens); a supervisor goroutine dials, resumes and reconnects. Client.mu guards all client state; it is never held while
// doing I/O. Events are queued without blocking the reader and delivered
// by one pump goroutine.
package client
