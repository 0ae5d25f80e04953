// Package server is Parley's room server as a library: New(Config),
// Listen, Serve, Shutdown. It implements PROTOCOL.md sections 1–10 over
// WebTransport (HTTP/3 on UDP), WebSocket (HTTPS on TCP, the same port
// number) and an in-process transport (DialInProcess) for an application
// that hosts a server and joins it itself.
//
// # Shape
//
// Transport adapters (transport_webtransport.go, transport_websocket.go;
// the only files that import quic-go, webtransport-go and coder/websocket)
// turn a connection into a conn and call runSession. The core — sessions
// (session.go), requests (handle.go, say.go, image.go) and shared state
// (hub.go) — sees only conn. History, identities, nonces and images live
// behind Store (store.go); MemoryStore is the in-memory implementation.
//
// # How a message flows
//
// A say arrives on the control stream; the session's reader checks it,
// takes the conversation's lock, assigns the next seq and calls
// Store.Append. When the store reports the message durable, the event is
// encoded once and queued to every member's bounded outbound queue (never
// blocking: a full queue closes that member with 4001), then the sender's
// ok is queued. Each session's writer drains its queue, coalescing queued
// frames into one stream write.
//
// # Concurrency
//
// Every session has one reader goroutine (the HTTP handler's, which owns
// the rest), one writer goroutine, stream acceptors and a goroutine per
// upload or fetch in flight, all tracked and waited for before the session
// ends; Shutdown closes every session with 4002 and waits for all of them.
// Control requests of a session are answered in order: an answer that
// waits for the store (say) holds back the reader's later answers.
//
// Lock order, outermost first (see hub.go):
//
//	seqConv.mu → room.fanMu → hub.mu → hub.nonceMu
//
// Server.mu guards listeners and the session set and is never held while
// taking another lock. Store.Append may call done inside Append, so done
// callbacks never take seqConv.mu.
//
// # In-process transport
//
// DialInProcess returns a net.Conn served by the server's HTTP handler
// without TLS. A client speaks the WebSocket fallback over it, dialing
// InProcessURL (ws://inprocess/parley) without an Origin header.
package server
