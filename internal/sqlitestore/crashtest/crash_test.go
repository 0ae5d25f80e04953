package crashtest

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"parley/client"
	"parley/internal/sqlitestore"
	"parley/protocol"
	"parley/server"
)

// Sizes of the crash test (issue 4): total messages, concurrent senders,
// SIGKILLs during the load.
const (
	totalMessages = 30000
	senders       = 16
	kills         = 6
)

const room = "crash"

// watcher records every message event of the room.
type watcher struct {
	mu     sync.Mutex
	seen   map[int64]int // seq → times delivered
	texts  map[int64]string
	epochs int
	errs   []error
}

func (w *watcher) run(c *client.Client) {
	for ev := range c.Events() {
		w.mu.Lock()
		switch ev.Kind {
		case client.EventMessage:
			if m := ev.Message; m != nil && m.Room == room && !m.Private() {
				w.seen[m.Seq]++
				w.texts[m.Seq] = m.Text
			}
		case client.EventEpoch:
			w.epochs++
		case client.EventError:
			w.errs = append(w.errs, ev.Err)
		}
		w.mu.Unlock()
	}
}

func (w *watcher) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.seen)
}

// dial connects an identity to the server at addr, pinned to hash.
func dial(t *testing.T, addr, hash, name string) *client.Client {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(nil)
	// WebSocket: a killed server's TCP connections are reset at once, while
	// a WebTransport client waits for its 30 s QUIC idle timeout (a
	// restarted quic-go server has no stateless reset key in common with
	// the killed one), which would make six kills take minutes.
	d, err := client.NewWebSocketDialer(addr, hash)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{
		Server: addr, CertHash: hash, Name: name, Identity: priv, Dialer: d,
		Backoff: client.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond},
	})
	if err != nil {
		t.Fatalf("dial %s as %s: %v", addr, name, err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Join(ctx, room); err != nil {
		t.Fatalf("%s joins %s: %v", name, room, err)
	}
	return c
}

// TestCrashNothingLost is issue 4's crash test: a client sends 30,000
// numbered messages from 16 concurrent senders while the server is killed
// with SIGKILL at random moments (6 times) and once stopped with SIGTERM
// under load, then restarted. Afterwards every acknowledged message is in
// the stored history exactly once, at the seq its ok gave, in each sender's
// order, with no gap in seq; the room's epoch never changed; and a second
// client that stayed in the room (resuming after every restart) saw every
// message exactly once.
func TestCrashNothingLost(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash test runs for tens of seconds; skipped with -short")
	}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	t.Logf("seed %d", seed)
	dir := t.TempDir()
	data := dir + "/data"
	cert, key, hash := certFiles(t, dir)

	srv := startServer(t, data, "127.0.0.1:0", cert, key)
	if srv.hash != hash {
		t.Fatalf("server uses certificate %s, want %s", srv.hash, hash)
	}
	addr := srv.addr // the same port after every restart
	var srvMu sync.Mutex
	current := func() *proc { srvMu.Lock(); defer srvMu.Unlock(); return srv }

	w := &watcher{seen: map[int64]int{}, texts: map[int64]string{}}
	wc := dial(t, addr, hash, "Watcher")
	go w.run(wc)
	sc := dial(t, addr, hash, "Sender")
	ctx := context.Background()
	joined, err := sc.Join(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	epoch := joined.Epoch

	// acked[text] = seq from its ok; per sender the texts go in order.
	var ackMu sync.Mutex
	acked := map[string]int64{}
	var nAcked, nFailed atomic.Int64
	var failures []string
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > totalMessages {
					return
				}
				text := fmt.Sprintf("s%02d-%05d", s, i)
				sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
				sent, err := sc.Say(sctx, room, text)
				cancel()
				if err != nil {
					nFailed.Add(1)
					ackMu.Lock()
					failures = append(failures, fmt.Sprintf("%s: %v", text, err))
					ackMu.Unlock()
					continue
				}
				ackMu.Lock()
				acked[text] = sent.Seq
				ackMu.Unlock()
				nAcked.Add(1)
			}
		}()
	}
	sendersDone := make(chan struct{})
	go func() { wg.Wait(); close(sendersDone) }()

	// Kill at random points of the load: the k-th kill once a random number
	// of messages in the k-th of kills+2 slices was acknowledged; then one
	// SIGTERM under load.
	var termTook time.Duration
	restarts := 0
	for k := 0; k <= kills; k++ {
		slice := int64(totalMessages / (kills + 2))
		at := int64(k)*slice + slice/4 + rng.Int64N(slice/2)
		if k == kills {
			at = int64(kills)*slice + slice/2
		}
		for nAcked.Load()+nFailed.Load() < at {
			select {
			case <-sendersDone:
				t.Fatalf("the load finished before kill %d (at %d acknowledged)", k+1, at)
			case <-time.After(2 * time.Millisecond): // polling the progress counter
			}
		}
		p := current()
		t.Logf("%v: %d acknowledged, the watcher saw %d; stopping the server (%d)", time.Since(start).Round(time.Millisecond), nAcked.Load(), w.count(), k+1)
		if k < kills {
			p.kill()
		} else {
			took, code := p.term(t, 10*time.Second)
			termTook = took
			if code != 0 {
				t.Fatalf("SIGTERM under load: exit code %d\n%s", code, p.stderr)
			}
		}
		np := startServer(t, data, addr, cert, key)
		srvMu.Lock()
		srv = np
		srvMu.Unlock()
		restarts++
		t.Logf("%v: restarted", time.Since(start).Round(time.Millisecond))
	}
	select {
	case <-sendersDone:
	case <-time.After(120 * time.Second):
		t.Fatalf("senders not done 120 s after the last restart: %d acknowledged, %d failed", nAcked.Load(), nFailed.Load())
	}
	loadTook := time.Since(start)
	t.Logf("%d messages, %d acknowledged, %d failed, %d SIGKILLs and a SIGTERM (exit 0 in %v), in %v",
		totalMessages, nAcked.Load(), nFailed.Load(), kills, termTook.Round(time.Millisecond), loadTook.Round(time.Millisecond))
	w.mu.Lock()
	for i, err := range w.errs {
		if i < 5 {
			t.Logf("watcher error: %v", err)
		}
	}
	w.mu.Unlock()
	for i, f := range failures {
		if i < 10 {
			t.Logf("not acknowledged: %s", f)
		}
	}

	// The watcher resumed after every restart: it sees every stored message.
	deadline := time.Now().Add(20 * time.Second)
	for w.count() < int(nAcked.Load()) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}

	// Where the watcher has gaps, ask the server the way it resumes: join
	// with since just below each gap, through a fresh client.
	w.mu.Lock()
	gaps := missing(w.seen, nAcked.Load())
	w.mu.Unlock()
	if gaps != "" {
		probe := dial(t, addr, hash, "Probe")
		for _, r := range strings.Split(gaps, ", ") {
			lo, _, _ := strings.Cut(r, "-")
			n, _ := strconv.ParseInt(lo, 10, 64)
			page, err := probe.History(ctx, client.HistoryQuery{Room: room, Since: protocol.Int64(n - 1), Limit: 3})
			var got []int64
			for _, m := range page.Messages {
				got = append(got, m.Seq)
			}
			t.Logf("watcher gap %s: the server's history since %d answers seqs %v (err %v)", r, n-1, got, err)
		}
	}

	// Stop the server cleanly and read the store itself.
	if _, code := current().term(t, 10*time.Second); code != 0 {
		t.Fatalf("final SIGTERM: exit code %d\n%s", code, current().stderr)
	}
	st, err := sqlitestore.Open(data, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	conv := server.RoomConv(protocol.Fold(room))
	cs, err := st.Conv(ctx, conv, room)
	if err != nil {
		t.Fatal(err)
	}
	if cs.Epoch != epoch {
		t.Errorf("the room's epoch changed from %q to %q across crashes", epoch, cs.Epoch)
	}
	var history []*server.Message
	for since := int64(0); ; {
		ms, err := st.History(ctx, conv, server.HistoryQuery{Since: protocol.Int64(since), Limit: protocol.MaxHistory})
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			break
		}
		history = append(history, ms...)
		since = ms[len(ms)-1].Seq
	}
	if int64(len(history)) != cs.Seq {
		t.Errorf("history holds %d messages but the room's seq is %d", len(history), cs.Seq)
	}
	at := map[string]int64{}
	lastOf := map[string]int{} // sender → last message number seen in history order
	for i, m := range history {
		if m.Seq != int64(i)+1 {
			t.Fatalf("gap in seq: position %d holds seq %d", i+1, m.Seq)
		}
		if prev, dup := at[m.Text]; dup {
			t.Fatalf("%q stored twice, at seq %d and %d", m.Text, prev, m.Seq)
		}
		at[m.Text] = m.Seq
		sender, num, ok := strings.Cut(m.Text, "-")
		n, err := strconv.Atoi(num)
		if !ok || err != nil {
			t.Fatalf("unexpected message %q at seq %d", m.Text, m.Seq)
		}
		if n <= lastOf[sender] {
			t.Fatalf("sender %s's message %d stored after its message %d", sender, n, lastOf[sender])
		}
		lastOf[sender] = n
	}
	ackMu.Lock()
	for text, seq := range acked {
		got, ok := at[text]
		if !ok {
			t.Errorf("acknowledged %q (seq %d) is not in history", text, seq)
		} else if got != seq {
			t.Errorf("acknowledged %q with seq %d, stored at seq %d", text, seq, got)
		}
	}
	ackMu.Unlock()
	if nAcked.Load() != totalMessages {
		t.Errorf("%d of %d messages were acknowledged (the client re-sends across restarts)", nAcked.Load(), totalMessages)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	for seq, n := range w.seen {
		if n != 1 {
			t.Errorf("the watcher saw seq %d %d times", seq, n)
		}
		if seq < 1 || seq > int64(len(history)) {
			t.Errorf("the watcher saw seq %d, not in history", seq)
		} else if w.texts[seq] != history[seq-1].Text {
			t.Errorf("the watcher saw %q at seq %d, history holds %q", w.texts[seq], seq, history[seq-1].Text)
		}
	}
	if len(w.seen) != len(history) {
		t.Errorf("the watcher saw %d messages, history holds %d; missing: %s", len(w.seen), len(history), missing(w.seen, int64(len(history))))
	}
	if w.epochs != 0 {
		t.Errorf("the watcher was told %d times that history was lost", w.epochs)
	}
	t.Logf("restarts %d; the watcher saw %d messages once each; client errors: %d", restarts, len(w.seen), len(w.errs))
}

// missing lists the seqs from 1 to n that seen lacks, as ranges.
func missing(seen map[int64]int, n int64) string {
	var out []string
	for seq := int64(1); seq <= n; seq++ {
		if seen[seq] > 0 {
			continue
		}
		end := seq
		for end+1 <= n && seen[end+1] == 0 {
			end++
		}
		if end == seq {
			out = append(out, strconv.FormatInt(seq, 10))
		} else {
			out = append(out, fmt.Sprintf("%d-%d", seq, end))
		}
		seq = end
	}
	return strings.Join(out, ", ")
}
