package lan

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// source is a current() for Follow whose Info the test changes; it counts
// the calls.
type source struct {
	mu    sync.Mutex
	info  Info
	calls int
}

func (s *source) current() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return cloneInfo(s.info)
}

func (s *source) set(f func(*Info)) {
	s.mu.Lock()
	f(&s.info)
	s.mu.Unlock()
}

func (s *source) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// followTest starts Follow (every millisecond) on an Announcer that is
// not listening (Follow only swaps its record set) and returns it, the
// source, the errors passed to onErr and Follow's end.
func followTest(t *testing.T, info Info) (*Announcer, *source, <-chan error, context.CancelFunc, <-chan struct{}) {
	t.Helper()
	svc, err := service(info)
	if err != nil {
		t.Fatal(err)
	}
	a := &Announcer{svc: svc, info: cloneInfo(info)}
	src := &source{info: cloneInfo(info)}
	errs := make(chan error, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Follow(ctx, time.Millisecond, src.current, func(err error) {
			select {
			case errs <- err:
			default:
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return a, src, errs, cancel, done
}

// announcedBecomes polls until the announced Info satisfies ok.
func announcedBecomes(t *testing.T, a *Announcer, what string, ok func(Info) bool) Info {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, _ := a.announced()
		if ok(info) {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("the announcement never came to %s; it is %+v", what, info)
		}
		time.Sleep(time.Millisecond) // polling interval, not synchronisation
	}
}

func followInfo() Info {
	return Info{Name: "Kitchen", Port: 4433, CertHash: strings.Repeat("ab", 32), Members: 1, IPs: []net.IP{net.IPv4(10, 0, 0, 1)}}
}

func TestFollowAnnouncesChanges(t *testing.T) {
	a, src, _, cancel, done := followTest(t, followInfo())

	src.set(func(i *Info) { i.Members = 5 })
	announcedBecomes(t, a, "5 members", func(i Info) bool { return i.Members == 5 })

	newHash := strings.Repeat("cd", 32)
	src.set(func(i *Info) { i.CertHash = newHash })
	announcedBecomes(t, a, "the renewed hash", func(i Info) bool { return i.CertHash == newHash })

	// An empty hash keeps the announced one; the rest still follows.
	src.set(func(i *Info) { i.CertHash, i.Members = "", 6 })
	got := announcedBecomes(t, a, "6 members", func(i Info) bool { return i.Members == 6 })
	if got.CertHash != newHash {
		t.Fatalf("an empty hash replaced the announced one: %+v", got)
	}

	// Same number of addresses, another address.
	src.set(func(i *Info) { i.IPs = []net.IP{net.IPv4(10, 0, 0, 2)} })
	announcedBecomes(t, a, "the new address", func(i Info) bool { return len(i.IPs) == 1 && i.IPs[0].Equal(net.IPv4(10, 0, 0, 2)) })

	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Follow did not return after its context ended")
	}
}

// An unchanged Info is not announced again: the record set stays the same
// one however many checks pass.
func TestFollowSkipsUnchanged(t *testing.T) {
	a, src, _, _, _ := followTest(t, followInfo())
	a.mu.Lock()
	svc := a.svc
	a.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for src.callCount() < 20 {
		if time.Now().After(deadline) {
			t.Fatal("Follow checked fewer than 20 times in 10 s")
		}
		time.Sleep(time.Millisecond) // polling interval, not synchronisation
	}
	a.mu.Lock()
	same := a.svc == svc
	a.mu.Unlock()
	if !same {
		t.Fatal("an unchanged Info was announced again")
	}
}

// A failed update goes to onErr, leaves the announcement as it was and is
// tried again at the next check.
func TestFollowReportsFailedUpdate(t *testing.T) {
	a, src, errs, _, _ := followTest(t, followInfo())
	src.set(func(i *Info) { i.Port, i.Members = 0, 9 })
	select {
	case err := <-errs:
		if !strings.Contains(err.Error(), "port") {
			t.Fatalf("onErr got %v, want the bad port", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a failed update was not reported")
	}
	if info, _ := a.announced(); info.Port != 4433 || info.Members != 1 {
		t.Fatalf("a failed update changed the announcement: %+v", info)
	}
	src.set(func(i *Info) { i.Port = 4433 })
	announcedBecomes(t, a, "the retried update", func(i Info) bool { return i.Members == 9 })
}

// Follow ends when its Announcer is closed.
func TestFollowEndsWhenClosed(t *testing.T) {
	a, _, _, _, done := followTest(t, followInfo())
	a.mu.Lock()
	a.closed = true // what Close does first (the test Announcer has no responder to shut down)
	a.mu.Unlock()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Follow did not return after its Announcer was closed")
	}
}
