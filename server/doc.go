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
// taking another lock. The session slots (Config.MaxSessions) are an
// atomic counter: serveParley reserves one by compare-and-swap before the
// upgrade and releases it when the handler returns, after the session has
// ended. The other capacity limits are checked under the state they
// bound: Config.MaxUserSessions in hub.addSession under hub.mu, and
// Config.MaxRooms in join on the reader's own room set. Store.Append may call done inside Append, so done
// callbacks never take seqConv.mu.
//
// # Performance
//
// BenchmarkFanoutRemote (bench_remote_test.go) measures the server alone:
// the members and the sender run in a child process (the test binary
// re-executed as a load generator, loadgen_test.go) over real
// WebTransport on loopback, the server pinned to CPU 0 with GOMAXPROCS 1
// and the load to CPU 1 when taskset exists. It reports the server's CPU
// time per delivered message, allocations per delivery, deliveries/s,
// p50/p99 latency at an open-loop 100 messages/s, and how long the
// server's threads waited for their core (other processes on a shared
// machine). Run it with
//
//	go test -run '^$' -bench FanoutRemote -benchtime 3x ./server/
//
// On a 2-core VM about four fifths of the server's CPU per delivery is
// quic-go and the kernel: one sendmsg per packet (on loopback it also
// pays the receiver's side), packing and sealing, ACK processing and the
// goroutine hand-offs (session writer → connection loop → send queue):
// about 35 µs of server CPU per delivery at 100 messages/s to 100
// members, of which sendmsg alone is a third. The WebSocket fallback
// costs about as much (one TLS record and one TCP write per delivery).
// The core alone (BenchmarkFanoutCore: one encode per message, the
// fan-out, the queues and the writers, over a transport that only
// counts) costs about 0.3 µs per delivery and allocates nothing per
// recipient (TestFanoutNoAllocPerRecipient). Once the server falls
// behind, queued frames coalesce into one stream write and one packet,
// so its cost per delivery falls with load (about 10 µs at 500 members).
//
// # In-process transport
//
// DialInProcess returns a net.Conn served by the server's HTTP handler
// without TLS. A client speaks the WebSocket fallback over it, dialing
// InProcessURL (ws://inprocess/parley) without an Origin header.
package server
