package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"parley/protocol"
	"parley/server"
)

// Test16Clients200Messages: every member receives every other member's
// message exactly once, in seq order.
func Test16Clients200Messages(t *testing.T) {
	const clients, messages = 16, 200
	ts := startServer(t, server.Config{Rate: -1})
	cs := make([]*rawClient, clients)
	for i := range cs {
		cs[i] = dialWT(t, ts)
		cs[i].hello(fmt.Sprintf("user%02d", i))
		cs[i].join("lobby")
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- run16(c, i, clients, messages)
		}()
	}
	wg.Wait()
	close(errs)
	all := make(map[int64]int)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	_ = all
}

// run16 sends messages without waiting, then reads until it has its own
// answers and every other client's messages.
func run16(c *rawClient, me, clients, messages int) error {
	for j := range messages {
		c.nextID++
		b := fmt.Sprintf(`{"type":"say","id":%d,"room":"lobby","text":"m %d %d"}`, c.nextID, me, j)
		var err error
		if _, err = c.ctrl.Write([]byte(b + "\n")); err != nil {
			return err
		}
	}
	oks, msgs := 0, 0
	var last int64
	seen := make(map[string]bool)
	for oks < messages || msgs < (clients-1)*messages {
		var m inMsg
		select {
		case m = <-c.in:
		case <-c.gone:
			return fmt.Errorf("%s: closed after %d oks, %d msgs: %v", c.name, oks, msgs, c.readErr)
		case <-time.After(waitTimeout):
			return fmt.Errorf("%s: stuck after %d oks, %d msgs", c.name, oks, msgs)
		}
		// A light parse: 16 clients decode 51,200 frames here.
		var f struct {
			Type    string
			Seq     *int64
			Text    string
			Code    string
			Message string
		}
		if err := json.Unmarshal(m.text, &f); err != nil {
			return err
		}
		switch f.Type {
		case protocol.TypeOK:
			oks++
		case protocol.TypeMsg:
			msgs++
			if *f.Seq <= last {
				return fmt.Errorf("%s: seq %d after %d", c.name, *f.Seq, last)
			}
			last = *f.Seq
			if seen[f.Text] || strings.HasPrefix(f.Text, fmt.Sprintf("m %d ", me)) {
				return fmt.Errorf("%s: duplicate or own message %q", c.name, f.Text)
			}
			seen[f.Text] = true
		case protocol.TypeErr:
			return fmt.Errorf("%s: %s %s", c.name, f.Code, f.Message)
		}
	}
	return nil
}

func TestSlowMemberClosed4001(t *testing.T) {
	ts := startServer(t, server.Config{Rate: -1, QueueSize: 256})
	sender, fast, slow := dialWT(t, ts), dialWT(t, ts), dialWT(t, ts)
	sender.hello("Sender")
	fast.hello("Fast")
	slow.hello("Slow")
	for _, c := range []*rawClient{sender, fast, slow} {
		c.join("lobby")
	}
	slow.gate.Lock() // stops reading: QUIC flow control then the queue fill up
	defer slow.gate.Unlock()
	text := strings.Repeat("x", 3000)
	const n = 1000
	done := make(chan error, 1)
	go func() {
		var last int64
		got := 0
		for got < n {
			var m inMsg
			select {
			case m = <-fast.in:
			case <-fast.gone:
				done <- fmt.Errorf("fast closed after %d messages: %v", got, fast.readErr)
				return
			case <-time.After(waitTimeout):
				done <- fmt.Errorf("fast got %d messages, then nothing", got)
				return
			}
			f := new(protocol.Frame)
			if err := json.Unmarshal(m.text, f); err != nil {
				done <- err
				return
			}
			if f.Type != protocol.TypeMsg || f.Broadcast {
				continue
			}
			if *f.Seq <= last {
				done <- fmt.Errorf("fast: seq %d after %d", *f.Seq, last)
				return
			}
			last = *f.Seq
			got++
		}
		done <- nil
	}()
	for range n {
		sender.ok(map[string]any{"type": "say", "room": "lobby", "text": text})
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	slow.gate.Unlock()
	if code := slow.closeCode(); code != 4001 {
		t.Fatalf("slow member closed with %d, want 4001", code)
	}
	slow.gate.Lock()
	if d := ts.srv.Metrics().Drops["queue_full"]; d < 1 {
		t.Fatalf("drops by reason: %v", ts.srv.Metrics().Drops)
	}
	if c := ts.srv.Metrics().Closes["too_slow"]; c != 1 {
		t.Fatalf("closes: %v", ts.srv.Metrics().Closes)
	}
}

func TestShutdownCloses4002NoLeaks(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv, err := server.New(server.Config{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background()) }()
	ts := &testServer{srv: srv, addr: srv.Addr().String(), hash: srv.CertHash()}
	clients := []*rawClient{dialWT(t, ts), dialWS(t, ts), dialInProcess(t, srv)}
	for i, c := range clients {
		c.hello(fmt.Sprint("user", i))
		c.join("lobby")
	}
	// An upload in flight and a session that never said hello.
	idle := dialWT(t, ts)
	idle.sendRaw(`{"type":"rooms","id":1}`)
	idle.next()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(ctx); err != nil { // idempotent
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve returned %v", err)
	}
	for _, c := range append(clients, idle) {
		if code := c.closeCode(); code != 4002 {
			t.Errorf("%s (%s) closed with %d, want 4002", c.name, c.kind, code)
		}
		c.close()
	}
	if _, err := srv.DialInProcess(ctx); err == nil {
		t.Error("DialInProcess after Shutdown succeeded")
	}
}

func TestShutdownGivesUp(t *testing.T) {
	srv, err := server.New(server.Config{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := srv.Shutdown(ctx); err != nil && err != context.Canceled {
		t.Fatalf("got %v", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel2()
	if err := srv.Shutdown(ctx2); err != nil {
		t.Fatal(err)
	}
}
