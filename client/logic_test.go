package client

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"parley/protocol"
)

func TestSeenDeliversEachSeqOnce(t *testing.T) {
	var s seen
	s.reset(10, "e")
	for _, c := range []struct {
		seq  int64
		want bool
	}{{10, false}, {11, true}, {11, false}, {13, true}, {12, true}, {13, false}, {14, true}, {9, false}} {
		if got := s.mark(c.seq); got != c.want {
			t.Fatalf("mark(%d) = %v, want %v", c.seq, got, c.want)
		}
	}
	if s.floor != 14 || len(s.above) != 0 {
		t.Fatalf("floor %d, above %v; want 14 and none", s.floor, s.above)
	}
}

func TestSeenFirstSightingStartsThere(t *testing.T) {
	var s seen
	if !s.mark(7) || s.mark(7) || s.floor != 7 {
		t.Fatalf("first sighting: floor %d", s.floor)
	}
}

func TestSeenBoundsOutOfOrderSeqs(t *testing.T) {
	var s seen
	s.reset(0, "e")
	// Seq 1 never comes: at maxAbove remembered seqs it is given up.
	for i := int64(2); i <= maxAbove+1; i++ {
		s.mark(i)
	}
	if s.floor != 0 || len(s.above) != maxAbove {
		t.Fatalf("at the limit: floor %d, %d above", s.floor, len(s.above))
	}
	s.mark(maxAbove + 2)
	if s.floor != maxAbove+2 || len(s.above) != 0 {
		t.Fatalf("one past the limit: floor %d, %d above; want the gap given up", s.floor, len(s.above))
	}
}

func TestBackoffGrowsWithJitterAndCaps(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	for n := 0; n < 20; n++ {
		d := b.delay(n, errors.New("x"))
		ceil := min(b.Min<<min(n, 10), b.Max)
		if d < b.Min/2 || d > ceil {
			t.Fatalf("delay(%d) = %v, want in [%v, %v]", n, d, b.Min/2, ceil)
		}
	}
	for _, code := range []protocol.CloseCode{protocol.CloseProtocolError, protocol.CloseRemoved} {
		if d := b.delay(0, &protocol.CloseError{Code: code}); d != b.Max {
			t.Fatalf("after close %d: %v, want Max (don't hammer)", code, d)
		}
	}
	if d := b.delay(0, &protocol.CloseError{Code: protocol.CloseShutdown}); d > b.Min {
		t.Fatalf("after 4002: %v, want a quick reconnect", d)
	}
	full := fmt.Errorf("client: websocket dial: %w", ErrServerFull)
	for _, max := range []time.Duration{time.Minute, time.Second} {
		b := Backoff{Min: 100 * time.Millisecond, Max: max}
		want := min(ServerFullRetry, max)
		for n := range 3 {
			if d := b.delay(n, full); d < want/2 || d > want {
				t.Fatalf("server full, Max %v: delay(%d) = %v, want in [%v, %v] (Retry-After, not the quick backoff)", max, n, d, want/2, want)
			}
		}
	}
}

func TestServerURLs(t *testing.T) {
	for in, want := range map[string][2]string{
		"example.org:4433":                 {"https://example.org:4433/parley", "wss://example.org:4433/parley"},
		"https://127.0.0.1:9000":           {"https://127.0.0.1:9000/parley", "wss://127.0.0.1:9000/parley"},
		"https://[::1]:9000/parley?x=1":    {"https://[::1]:9000/parley", "wss://[::1]:9000/parley"},
		"example.org":                      {"https://example.org:4433/parley", "wss://example.org:4433/parley"},
		" https://host.lan:1/other/path  ": {"https://host.lan:1/parley", "wss://host.lan:1/parley"},
	} {
		wt, ws, err := ServerURLs(in)
		if err != nil || wt != want[0] || ws != want[1] {
			t.Errorf("ServerURLs(%q) = %q, %q, %v; want %q, %q", in, wt, ws, err, want[0], want[1])
		}
	}
	for _, bad := range []string{"", "ftp://x:1", "https://:1", "http://x:1"} {
		if _, _, err := ServerURLs(bad); err == nil {
			t.Errorf("ServerURLs(%q) accepted", bad)
		}
	}
}

func TestEventQueueDropsOldestPastItsBound(t *testing.T) {
	q := newEventQueue(3)
	defer q.close()
	// Nobody reads while 5 events are pushed: the pump may hold one in
	// hand, the queue keeps at most 3; the reader is told what was lost.
	for i := 0; i < 5; i++ {
		q.push(Event{Kind: EventTyping, User: string(rune('a' + i))})
	}
	var got []Event
	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	for len(got) == 0 || got[len(got)-1].User != "e" {
		select {
		case ev := <-q.out:
			got = append(got, ev)
		case <-timer.C:
			t.Fatalf("events: %+v", got)
		}
	}
	var dropped, typing int
	for _, ev := range got {
		switch ev.Kind {
		case EventError:
			var de *droppedError
			if !errors.As(ev.Err, &de) {
				t.Fatalf("unexpected error event %v", ev.Err)
			}
			dropped += de.n
		case EventTyping:
			typing++
		}
	}
	if typing+dropped != 5 || dropped == 0 || typing > 4 {
		t.Fatalf("%d delivered and %d reported dropped, want 5 in all with some dropped", typing, dropped)
	}
}

func TestFallbackDialerRemembersWhatWorked(t *testing.T) {
	bad := dialerFunc(func() (Conn, error) { return nil, errors.New("udp blocked") })
	srv := newFakeServer(t)
	d := &FallbackDialer{Primary: bad, Fallback: srv, After: time.Second}
	c, err := d.Dial(t.Context())
	if err != nil {
		t.Fatalf("fallback dial: %v", err)
	}
	c.Close(0, "")
	if !d.UsingFallback() {
		t.Fatal("the dialer did not remember that the fallback worked")
	}
	both := &FallbackDialer{Primary: bad, Fallback: bad}
	if _, err := both.Dial(t.Context()); err == nil {
		t.Fatal("dial with both failing succeeded")
	}
}

type dialerFunc func() (Conn, error)

func (f dialerFunc) Dial(context.Context) (Conn, error) { return f() }
