package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"parley/protocol"
)

// countConn is a conn whose WriteFrames only counts frames: the core's
// fan-out path (encode, room lock, queues, writers) without a transport.
type countConn struct {
	frames *atomic.Int64
	target *atomic.Int64 // frames to count before signalling wrote
	wrote  chan struct{}
	done   chan struct{}
}

func (c *countConn) ReadControl(ctx context.Context) ([]byte, io.Reader, error) {
	<-ctx.Done()
	return nil, nil, ctx.Err()
}

func (c *countConn) WriteFrames(frames [][]byte) error {
	if c.frames.Add(int64(len(frames))) >= c.target.Load() {
		select {
		case c.wrote <- struct{}{}:
		default:
		}
	}
	return nil
}

func (c *countConn) CloseControl() {}
func (c *countConn) AcceptUpload(ctx context.Context) (recvStream, error) {
	return nil, errors.New("no uploads")
}
func (c *countConn) AcceptFetch(ctx context.Context) (bidiStream, error) {
	return nil, errors.New("no fetches")
}
func (c *countConn) WriteBinary(context.Context, []byte, io.Reader, int64) error {
	return errors.New("no binary")
}
func (c *countConn) Datagrams() bool                                     { return false }
func (c *countConn) SendDatagram([]byte) error                           { return nil }
func (c *countConn) ReceiveDatagram(ctx context.Context) ([]byte, error) { return nil, ctx.Err() }
func (c *countConn) Close(protocol.CloseCode, string)                    {}
func (c *countConn) Done() <-chan struct{}                               { return c.done }
func (c *countConn) Kind() string                                        { return "count" }
func (c *countConn) RemoteAddr() string                                  { return "count" }

// coreRoom is a room of n members, each with a running writer on a
// countConn, and a sender session outside it.
type coreRoom struct {
	r      *room
	sender *session
	frames atomic.Int64
	target atomic.Int64
	wrote  chan struct{}
	stop   func()
}

func newCoreRoom(t testing.TB, n int) *coreRoom {
	t.Helper()
	s, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	cr := &coreRoom{
		r:     &room{seqConv: seqConv{id: RoomConv("bench"), name: "bench"}, key: "bench", members: make(map[*session]*member)},
		wrote: make(chan struct{}, 1),
	}
	done := make(chan struct{})
	newSession := func() *session {
		return &session{
			srv:     s,
			log:     s.log,
			c:       &countConn{frames: &cr.frames, target: &cr.target, wrote: cr.wrote, done: done},
			queue:   newOutQueue(s.cfg.QueueSize, s.cfg.QueueBytes),
			closing: make(chan struct{}),
		}
	}
	cr.sender = newSession()
	var writers []*session
	for range n {
		ss := newSession()
		cr.r.members[ss] = &member{ss: ss}
		writers = append(writers, ss)
		ss.goSafe(ss.writer)
	}
	cr.stop = func() {
		for _, ss := range writers {
			ss.close(protocol.CloseShutdown, "")
			ss.wg.Wait()
		}
		close(done)
		s.store.Close()
	}
	t.Cleanup(cr.stop)
	return cr
}

// post fans one message out and waits until every member's writer wrote it.
func (cr *coreRoom) post(m *Message, want int64) {
	m.Seq++
	cr.target.Store(want)
	cr.sender.fanRoom(cr.r, m)
	for cr.frames.Load() < want {
		<-cr.wrote
	}
}

func coreMessage() *Message {
	return &Message{
		Conv: RoomConv("bench"), Room: "bench", From: "sender", Owner: "sender",
		TS: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Text: "a chat line of an ordinary length, like most of them",
	}
}

// TestFanoutNoAllocPerRecipient: a room message costs the core a few
// allocations (its one encoding), not one per member: the queues and the
// writers' buffers are reused from message to message.
func TestFanoutNoAllocPerRecipient(t *testing.T) {
	const members = 100
	cr := newCoreRoom(t, members)
	m := coreMessage()
	var want int64
	allocs := testing.AllocsPerRun(200, func() {
		want += members
		cr.post(m, want)
	})
	if allocs >= members/2 { // one per recipient was 106; the race detector adds a few
		t.Fatalf("%.1f allocations per room message of %d members: the fan-out allocates per recipient", allocs, members)
	}
	t.Logf("%.1f allocations per message to %d members", allocs, members)
}

// BenchmarkFanoutCore is the core's own cost of a room message to 100
// members (one op), without QUIC: encode once, queue to every member,
// every writer wakes and hands its frames to the transport. Compare its
// ns/delivery with BenchmarkFanoutRemote's cpu-µs/delivery to see the
// transport's share.
func BenchmarkFanoutCore(b *testing.B) {
	const members = 100
	cr := newCoreRoom(b, members)
	m := coreMessage()
	var want int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for range b.N {
		want += members
		cr.post(m, want)
	}
	cpu := processCPU() - cpu0
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*members), "ns/delivery")
	// CPU time is steadier than wall time on a shared machine.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*members), "cpu-ns/delivery")
}

// processCPU returns the process's CPU time so far (user + system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
