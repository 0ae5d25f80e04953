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
// ended; an in-process session takes none. The other capacity limits are checked under the state they
// bound: Config.MaxUserSessions in hub.addSession under hub.mu, and
// Config.MaxRooms in join on the reader's own room set. Store.Append may call done inside Append, so done
// callbacks never take seqConv.mu.
//
// # What the hub holds, and when it forgets
//
// The hub (hub.go) holds the live state of conversations: a room's
// members, next seq, epoch and durable seq; a private conversation's next
// seq and epoch. The store holds the rest, so the hub forgets what is not
// in use and loads it again (seqConv.load → Store.Conv) when it is:
//
//   - a room while it has members or an operation in flight on it;
//   - an identities' private conversation while either user is online or a
//     post to it is in flight (user.pairs records it with the users online;
//     the last of them to leave forgets it);
//   - a guest's private conversation until the guest's last session ends;
//     then it leaves the map at once, and Store.DropConv runs once the
//     posts still using it ended (pconv.idle) and any earlier drop of the
//     pair finished; a new conversation of the pair waits for that drop
//     (hub.dropping) before loading.
//
// Each room and private conversation counts its references (seqConv.refs):
// a room's members hold one each, a join holds one from h.room until its
// member is added, and a say or image holds the room's (and the private
// conversation's) from the lookup in check until its Append completed and
// fanned out. A reference is taken only by a lookup in the hub's map under
// hub.mu (the read lock: refs is atomic); the object leaves the map only
// under hub.mu's write lock with refs at zero. So a lookup racing a drop
// either takes a reference to the old object, which then stays, or makes a
// new one; the new one loads from the store after every Append of the old
// one completed, and never hands out a seq twice. Lookups that only read
// (findRoom: users, typing, history, leave, fetch) take no reference: a
// room they find dropped has no members, which is what they check.
// Releasing (releaseRoom, releasePair) takes hub.mu, after seqConv.mu in
// the lock order: a done called inside Append may release.
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
