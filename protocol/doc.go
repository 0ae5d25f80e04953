// Package protocol defines Parley's wire protocol, version 1: the frames,
// their fields, the error and close codes, the limits, name normalisation
// and the line codec. It depends on the standard library and golang.org/x
// only, so the server, the native client and the WebAssembly client share it.
//
// # Protocol flow
//
// A client opens a session (a WebTransport session on /parley over HTTP/3,
// or a WebSocket on /parley over HTTPS as a fallback) and then:
//
//  1. opens the control stream (the session's first bidirectional stream)
//     and sends hello; with a key it answers the challenge with auth;
//  2. joins rooms (join, optionally with since to resume), says things
//     (say), uploads images on unidirectional streams (image), fetches
//     image bytes on their own bidirectional streams (fetch), pages history
//     (history) and sends typing datagrams;
//  3. receives events (frames without id): msg, joined, left, typing.
//
// Every request carries an id and is answered exactly once with ok or err.
// Frames on the control stream are one JSON object per line; a frame's JSON
// text is at most MaxFrame-1 bytes. See docs/protocol.md for the full text.
//
// # Concurrency
//
// Everything here is safe for concurrent use: the package holds no mutable
// state. A Reader is used by one goroutine at a time.
package protocol
