package bridge

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/protocol"
)

func TestParseMention(t *testing.T) {
	members := []string{"Bob", "Bob Smith", "Zoë"}
	cases := []struct {
		in, to, text string
		ok           bool
	}{
		{"@Bob hi", "Bob", "hi", true},
		{"@bob hi", "Bob", "hi", true},
		{"@Bob Smith hello there", "Bob Smith", "hello there", true},
		{"@ZOË ça va", "Zoë", "ça va", true},
		{"@Bob\nline two", "Bob", "line two", true},
		{"@stranger hi", "stranger", "hi", true}, // the server answers no_such_user
		{"@Bob", "", "", false},
		{"@Bob    ", "", "", false},
		{"hello @Bob", "", "", false},
		{"@ hi", "", "", false},
		{"", "", "", false},
	}
	for _, c := range cases {
		to, text, ok := ParseMention(c.in, members)
		if to != c.to || text != c.text || ok != c.ok {
			t.Errorf("ParseMention(%q) = %q, %q, %v; want %q, %q, %v", c.in, to, text, ok, c.to, c.text, c.ok)
		}
	}
}

// Events are delivered in order, in batches of at most the limit, and a
// full batch goes out without waiting for the period. The first delivery
// waits until every event is pushed, so the queue then holds 800 events:
// they must follow at once, as four full batches.
func TestEmitterBatchesInOrder(t *testing.T) {
	var mu sync.Mutex
	var got []Event
	sizes := []int{}
	done := make(chan struct{})
	pushed := make(chan struct{})
	const n = 1000
	e := newEmitter(func(name string, data any) {
		<-pushed
		batch := data.([]Event)
		mu.Lock()
		defer mu.Unlock()
		got = append(got, batch...)
		sizes = append(sizes, len(batch))
		if len(got) == n {
			close(done)
		}
	}, time.Hour, 200) // an hour: only full batches and close flush
	for i := range n {
		e.push(Event{Kind: EvTyping, Seq: int64(i)})
	}
	close(pushed)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("full batches were not delivered without waiting for the period: %d of %d events in batches %v", len(got), n, sizes)
	}
	e.close()
	mu.Lock()
	defer mu.Unlock()
	for i, ev := range got {
		if ev.Seq != int64(i) {
			t.Fatalf("event %d has seq %d: order lost", i, ev.Seq)
		}
	}
	if fmt.Sprint(sizes) != "[200 200 200 200 200]" {
		t.Fatalf("batches of %v events, want five of 200", sizes)
	}
}

func TestEmitterFlushesAfterPeriodAndOnClose(t *testing.T) {
	got := make(chan []Event, 10)
	e := newEmitter(func(_ string, data any) { got <- data.([]Event) }, 10*time.Millisecond, 200)
	e.push(Event{Kind: EvNotice, Text: "one"})
	select {
	case b := <-got:
		if len(b) != 1 || b[0].Text != "one" {
			t.Fatalf("batch %+v", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a lone event was not delivered after the period")
	}
	e.push(Event{Kind: EvNotice, Text: "two"})
	e.close()
	e.push(Event{Kind: EvNotice, Text: "after close"}) // dropped, no panic
	var texts []string
	for len(got) > 0 {
		for _, ev := range <-got {
			texts = append(texts, ev.Text)
		}
	}
	if strings.Join(texts, ",") != "two" {
		t.Fatalf("after close: %v", texts)
	}
}

func TestEmitterDropsOldestPastLimit(t *testing.T) {
	block := make(chan struct{})
	var mu sync.Mutex
	var total int
	var notices int
	e := newEmitter(func(_ string, data any) {
		<-block
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range data.([]Event) {
			if ev.Kind == EvNotice {
				notices++
			} else {
				total++
			}
		}
	}, time.Millisecond, 200)
	e.push(Event{Kind: EvTyping}) // taken by the blocked Emit
	for range MaxPendingEvents + 500 {
		e.push(Event{Kind: EvTyping})
	}
	e.mu.Lock()
	queued := len(e.queue)
	e.mu.Unlock()
	if queued > MaxPendingEvents {
		t.Fatalf("%d events queued, limit %d", queued, MaxPendingEvents)
	}
	close(block)
	e.close()
	if notices != 1 {
		t.Fatalf("%d notices about dropped events, want 1", notices)
	}
	if total > MaxPendingEvents+DefaultMaxBatch {
		t.Fatalf("%d delivered, more than the limit allows", total)
	}
}

func TestInputValidation(t *testing.T) {
	b := New(Options{})
	defer b.Close()
	cases := []struct {
		req  ConnectRequest
		code protocol.Code
	}{
		{ConnectRequest{Server: "h:1", Name: ""}, protocol.CodeBadName},
		{ConnectRequest{Server: "h:1", Name: strings.Repeat("x", protocol.MaxNameLen+1)}, protocol.CodeBadName},
		{ConnectRequest{Server: "h:1", Name: "a\u0000b"}, protocol.CodeBadName},
		{ConnectRequest{Server: "", Name: "Al"}, protocol.CodeBadRequest},
		{ConnectRequest{Server: "h 1", Name: "Al"}, protocol.CodeBadRequest},
		{ConnectRequest{Server: "h:1", Name: "Al", CertHash: "abc"}, protocol.CodeBadRequest},
		{ConnectRequest{Server: "h:1", Name: "Al", CertHash: strings.Repeat("z", 64)}, protocol.CodeBadRequest},
		{ConnectRequest{Server: "h:1", Name: "Al", Room: strings.Repeat("r", protocol.MaxRoomLen+1)}, protocol.CodeBadRoom},
		{ConnectRequest{Link: "parley://h:1", Name: "Al"}, protocol.CodeBadRequest}, // no ParseLink
	}
	for _, c := range cases {
		if _, err := b.Connect(c.req); protocol.CodeOf(err) != c.code {
			t.Errorf("Connect(%+v) = %v, want %s", c.req, err, c.code)
		}
	}
	// Not connected: every method says so.
	if _, err := b.JoinRoom("lobby"); protocol.CodeOf(err) != CodeNotConnected {
		t.Errorf("JoinRoom offline: %v", err)
	}
	if _, err := b.Send(SendRequest{Conv: "r:lobby", Text: "x"}); protocol.CodeOf(err) != CodeNotConnected {
		t.Errorf("Send offline: %v", err)
	}
	st, err := b.Status()
	if err != nil || st.State != StateIdle || st.Conversations == nil {
		t.Errorf("idle status %+v %v", st, err)
	}
}

func TestTextLimitsAndUnread(t *testing.T) {
	ts := runServer(t, protocol.Limits{Text: 10})
	b, rec := newBridge(t)
	connect(t, b, ts, "Alice", "lobby")
	bob := goClient(t, ts, "Bob", "lobby")

	if _, err := b.Send(SendRequest{Conv: "r:lobby", Text: strings.Repeat("é", 10)}); err != nil {
		t.Fatalf("text at the limit: %v", err)
	}
	if _, err := b.Send(SendRequest{Conv: "r:lobby", Text: strings.Repeat("é", 11)}); protocol.CodeOf(err) != protocol.CodeTooLarge {
		t.Fatalf("text one past the limit: %v", err)
	}
	for _, blank := range []string{"", "  ", "\n\t"} {
		if _, err := b.Send(SendRequest{Conv: "r:lobby", Text: blank}); protocol.CodeOf(err) != protocol.CodeBadRequest {
			t.Fatalf("blank %q: %v", blank, err)
		}
	}
	if _, err := b.Send(SendRequest{Conv: "r:nowhere", Text: "x"}); protocol.CodeOf(err) != protocol.CodeBadRequest {
		t.Fatalf("unknown conversation: %v", err)
	}

	// Active and focused: no unread. Not focused: counted, and OnUnread hears it.
	if _, err := b.SetActive("r:lobby", true); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Say(t.Context(), "lobby", "one"); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "one", isMsg("r:lobby", "one"))
	if st, _ := b.Status(); st.Unread != 0 {
		t.Fatalf("unread %d in the focused conversation", st.Unread)
	}
	b.SetActive("r:lobby", false)
	bob.Say(t.Context(), "lobby", "two")
	bob.Say(t.Context(), "lobby", "three")
	rec.waitFor(t, "three", isMsg("r:lobby", "three"))
	if st, _ := b.Status(); st.Unread != 2 {
		t.Fatalf("unread %d, want 2", st.Unread)
	}
	st, _ := b.SetActive("r:lobby", true)
	if st.Unread != 0 {
		t.Fatalf("unread %d after focusing", st.Unread)
	}
	rec.mu.Lock()
	hist := append([]int{}, rec.unread...)
	rec.mu.Unlock()
	if len(hist) < 2 || hist[len(hist)-1] != 0 {
		t.Fatalf("OnUnread calls %v", hist)
	}
	// Typing goes out at most every TypingEvery.
	if ok, err := b.Typing("r:lobby"); err != nil || !ok {
		t.Fatalf("typing: %v %v", ok, err)
	}
	if ok, _ := b.Typing("r:lobby"); ok {
		t.Fatal("a second typing notice went out at once")
	}
}

func TestCallDispatch(t *testing.T) {
	ts := runServer(t, protocol.Limits{})
	b, _ := newBridge(t)
	args, _ := json.Marshal([]any{ConnectRequest{Server: ts.addr, CertHash: ts.hash, Name: "Alice"}})
	out, err := b.Call("Connect", args)
	if err != nil {
		t.Fatal(err)
	}
	var st Status
	if err := json.Unmarshal(out, &st); err != nil || st.State != StateConnected {
		t.Fatalf("Connect via Call: %s %v", out, err)
	}
	out, err = b.Call("JoinRoom", []byte(`["lobby"]`))
	if err != nil || !strings.Contains(string(out), `"id":"r:lobby"`) {
		t.Fatalf("JoinRoom via Call: %s %v", out, err)
	}
	if out, err = b.Call("SetActive", []byte(`["r:lobby", true]`)); err != nil {
		t.Fatalf("SetActive: %v", err)
	}
	for _, bad := range []struct{ m, args string }{
		{"Close", `[]`}, {"ConnectConfig", `[]`}, {"SendImageFile", `["r:lobby","/etc/passwd"]`},
		{"JoinRoom", `[]`}, {"JoinRoom", `[1]`}, {"JoinRoom", `{"room":"x"}`}, {"Nope", `[]`},
	} {
		if _, err := b.Call(bad.m, []byte(bad.args)); protocol.CodeOf(err) != protocol.CodeBadRequest {
			t.Errorf("Call(%s, %s) = %v, want bad_request", bad.m, bad.args, err)
		}
	}
	// Every listed method exists with (T, error).
	for _, mi := range Methods {
		if _, err := b.Call(mi.Name, []byte(`[`+strings.TrimSuffix(strings.Repeat(`null,`, len(mi.Args)), ",")+`]`)); protocol.CodeOf(err) == protocol.CodeBadRequest && strings.Contains(err.Error(), "no method") {
			t.Errorf("listed method %s is not callable", mi.Name)
		}
	}
}
