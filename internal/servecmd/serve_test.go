package servecmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"parley/client"
	"parley/internal/lan"
	"parley/protocol"
)

// readyLine is the "parley serve ready" log record (JSON logs).
type readyLine struct {
	Msg      string `json:"msg"`
	URL      string `json:"url"`
	Addr     string `json:"addr"`
	CertHash string `json:"cert_hash"`
	KeyHash  string `json:"key_hash"`
	Join     string `json:"join"`
	Admin    string `json:"admin"`
	Name     string `json:"name"`
}

// logLines collects JSON log records as they are written and lets a test
// wait for one.
type logLines struct {
	mu    sync.Mutex
	lines []string
	cond  chan struct{} // closed and replaced on every line
}

func newLogLines() *logLines { return &logLines{cond: make(chan struct{})} }

func (l *logLines) consume(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l.mu.Lock()
		l.lines = append(l.lines, sc.Text())
		close(l.cond)
		l.cond = make(chan struct{})
		l.mu.Unlock()
	}
}

// Write makes logLines an io.Writer for in-process runs (one record per Write).
func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	for _, s := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		l.lines = append(l.lines, s)
	}
	close(l.cond)
	l.cond = make(chan struct{})
	l.mu.Unlock()
	return len(p), nil
}

// wait returns the first record whose msg is msg, waiting up to d.
func (l *logLines) wait(t *testing.T, msg string, d time.Duration) map[string]any {
	t.Helper()
	deadline := time.After(d)
	seen := 0
	for {
		l.mu.Lock()
		lines, cond := l.lines, l.cond
		l.mu.Unlock()
		for ; seen < len(lines); seen++ {
			var rec map[string]any
			if json.Unmarshal([]byte(lines[seen]), &rec) == nil && rec["msg"] == msg {
				return rec
			}
		}
		select {
		case <-cond:
		case <-deadline:
			t.Fatalf("no %q log record within %v; the log:\n%s", msg, d, strings.Join(lines, "\n"))
		}
	}
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func decodeReady(t *testing.T, rec map[string]any) readyLine {
	t.Helper()
	b, _ := json.Marshal(rec)
	var r readyLine
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// rawSession is a WebTransport session speaking frames directly.
type rawSession struct {
	t    *testing.T
	conn client.Conn
	id   int64
}

func dialRaw(t *testing.T, url, hash string) *rawSession {
	t.Helper()
	d, err := client.NewWebTransportDialer(url, hash)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.Dial(ctx)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = c.Close(0, "") })
	return &rawSession{t: t, conn: c}
}

// request sends f with the next id and returns the answer to it, skipping events.
func (s *rawSession) request(f *protocol.Frame) *protocol.Frame {
	s.t.Helper()
	s.id++
	f.ID = s.id
	b, err := protocol.Encode(f)
	if err != nil {
		s.t.Fatal(err)
	}
	b = bytes.TrimSuffix(b, []byte("\n")) // Send wants the JSON text alone
	if err := s.conn.Send(b); err != nil {
		s.t.Fatalf("send %s: %v", b, err)
	}
	for {
		data, _, err := s.conn.Recv()
		if err != nil {
			s.t.Fatalf("waiting for the answer to %s: %v", b, err)
		}
		a, err := protocol.Decode(data)
		if err != nil {
			s.t.Fatalf("answer %s: %v", data, err)
		}
		if a.ID == s.id {
			return a
		}
	}
}

// closeCode reads until the session ends and returns its close code.
func (s *rawSession) closeCode() protocol.CloseCode {
	s.t.Helper()
	for {
		_, _, err := s.conn.Recv()
		if err == nil {
			continue
		}
		var ce *protocol.CloseError
		if !errors.As(err, &ce) {
			s.t.Fatalf("session ended with %v, not a close code", err)
		}
		return ce.Code
	}
}

func hello(t *testing.T, s *rawSession, name string) {
	t.Helper()
	a := s.request(&protocol.Frame{Type: protocol.TypeHello, V: protocol.Version, Name: name})
	if a.Type != protocol.TypeOK {
		t.Fatalf("hello: %+v", a)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	rsp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer rsp.Body.Close()
	b, _ := io.ReadAll(rsp.Body)
	return rsp.StatusCode, string(b)
}

// inProcess is a Serve running in the test's process.
type inProcess struct {
	ready  readyLine
	logs   *logLines
	cancel context.CancelFunc // ends Serve
	exited chan struct{}      // closed when Serve has returned err
	err    error
}

// startServe runs Serve in-process with "--addr 127.0.0.1:0 --log-format
// json" and args, waits for its ready line and ends it when the test ends.
func startServe(t *testing.T, args ...string) *inProcess {
	t.Helper()
	o, err := Parse(append([]string{"--addr", "127.0.0.1:0", "--log-format", "json"}, args...), func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &inProcess{logs: newLogLines(), cancel: cancel, exited: make(chan struct{})}
	go func() {
		defer close(p.exited)
		p.err = Serve(ctx, o, p.logs)
		if p.err != nil { // fail fast if Serve returns before it is ready
			b, _ := json.Marshal(map[string]string{"msg": "parley serve ready", "serve_error": p.err.Error()})
			p.logs.Write(append(b, '\n'))
		}
	}()
	t.Cleanup(func() { p.stop() })
	rec := p.logs.wait(t, "parley serve ready", 30*time.Second)
	if e, ok := rec["serve_error"]; ok {
		t.Fatalf("Serve: %v", e)
	}
	p.ready = decodeReady(t, rec)
	return p
}

// stop ends Serve and returns what it returned. It may be called again.
func (p *inProcess) stop() error {
	p.cancel()
	<-p.exited
	return p.err
}

// TestServeInProcess runs Serve with the durable store and the admin
// endpoints, talks to it, and ends it through its context.
func TestServeInProcess(t *testing.T) {
	p := startServe(t, "--admin", "127.0.0.1:0", "--data", filepath.Join(t.TempDir(), "data"),
		"--name", "Test server", "--max-text", "10", "--retain", "30d,100",
		"--max-sessions", "1", "--max-rooms", "1")
	r := p.ready
	if _, err := lan.CheckHash(r.CertHash); err != nil {
		t.Fatalf("logged hash %q: %v", r.CertHash, err)
	}
	link, err := lan.ParseLink(r.Join)
	if err != nil || link.Hash != r.CertHash || link.ServerURL() != r.URL {
		t.Fatalf("join link %q (%+v, %v) does not match url %s and hash %s", r.Join, link, err, r.URL, r.CertHash)
	}

	s := dialRaw(t, r.URL, r.CertHash)
	a := s.request(&protocol.Frame{Type: protocol.TypeHello, V: protocol.Version, Name: "alice"})
	if a.Type != protocol.TypeOK || a.Server == nil || a.Server.Name != "Test server" || a.Server.Limits.Text != 10 {
		t.Fatalf("hello answer %+v: the server name or --max-text was not applied", a)
	}
	if a := s.request(&protocol.Frame{Type: protocol.TypeJoin, Room: "lobby"}); a.Type != protocol.TypeOK {
		t.Fatalf("join: %+v", a)
	}
	if a := s.request(&protocol.Frame{Type: protocol.TypeJoin, Room: "other"}); a.Code != protocol.CodeTooMany {
		t.Fatalf("a second room with --max-rooms 1: %+v", a)
	}
	// --max-sessions 1: the one session holds the server's only slot.
	if d, err := client.NewWebTransportDialer(r.URL, r.CertHash); err != nil {
		t.Fatal(err)
	} else if c, err := d.Dial(context.Background()); !errors.Is(err, client.ErrServerFull) {
		if c != nil {
			c.Close(0, "")
		}
		t.Fatalf("a second session with --max-sessions 1: %v, want the server full", err)
	}
	if a := s.request(&protocol.Frame{Type: protocol.TypeSay, Room: "lobby", Text: strings.Repeat("x", 11)}); a.Code != protocol.CodeTooLarge {
		t.Fatalf("11 characters with --max-text 10: %+v", a)
	}
	if a := s.request(&protocol.Frame{Type: protocol.TypeSay, Room: "lobby", Text: strings.Repeat("x", 10)}); a.Type != protocol.TypeOK {
		t.Fatalf("10 characters with --max-text 10: %+v", a)
	}

	if code, body := get(t, r.Admin+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := get(t, r.Admin+"/readyz"); code != 200 {
		t.Errorf("/readyz: %d %q", code, body)
	}
	if code, body := get(t, r.Admin+"/metrics"); code != 200 || !strings.Contains(body, "# TYPE ") {
		t.Errorf("/metrics: %d %q", code, body)
	}

	p.cancel()
	if got := s.closeCode(); got != protocol.CloseShutdown {
		t.Errorf("session closed with %d, want %d", got, protocol.CloseShutdown)
	}
	select {
	case <-p.exited:
		if p.err != nil {
			t.Fatalf("Serve: %v", p.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return within 10 s of its context ending")
	}
	p.logs.wait(t, "drained", time.Second)
}

// buildBinary builds the server-only parley binary once per test run.
var buildOnce struct {
	sync.Once
	path string
	err  error
	out  []byte
}

func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "parley-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "parley")
		cmd := exec.Command("go", "build", "-o", buildOnce.path, "parley")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		buildOnce.out, buildOnce.err = cmd.CombinedOutput()
	})
	if buildOnce.err != nil {
		t.Fatalf("go build parley: %v\n%s", buildOnce.err, buildOnce.out)
	}
	return buildOnce.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildOnce.path != "" {
		os.RemoveAll(filepath.Dir(buildOnce.path))
	}
	os.Exit(code)
}

// TestServeBinarySIGTERM runs the real `parley serve` binary (server-only
// build, CGO_ENABLED=0), reads the URL and certificate hash it logs,
// connects, and sends SIGTERM: the session is closed with 4002 and the
// process exits 0 within 10 s.
func TestServeBinarySIGTERM(t *testing.T) {
	bin := buildBinary(t)
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--log-format", "json")
	cmd.Env = append(os.Environ(), "PARLEY_NAME=From env", "PARLEY_ADMIN=127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	logs := newLogLines()
	go func() {
		logs.consume(stderr)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})
	r := decodeReady(t, logs.wait(t, "parley serve ready", 30*time.Second))
	s := dialRaw(t, r.URL, r.CertHash)
	hello(t, s, "bob")
	if code, _ := get(t, r.Admin+"/readyz"); code != 200 {
		t.Errorf("/readyz answered %d", code)
	}
	if r.Name != "From env" {
		t.Errorf("PARLEY_NAME not applied: name %q", r.Name)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	if got := s.closeCode(); got != protocol.CloseShutdown {
		t.Errorf("session closed with %d, want %d", got, protocol.CloseShutdown)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("parley serve exited with %v after SIGTERM; log:\n%s", err, logs)
		}
		t.Logf("exited 0 %v after SIGTERM", time.Since(sent).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatalf("parley serve still running 10 s after SIGTERM; log:\n%s", logs)
	}
}

// TestServeBinaryBadFlag: a bad flag is a clear message and exit status 1,
// before anything listens.
func TestServeBinaryBadFlag(t *testing.T) {
	bin := buildBinary(t)
	out, err := exec.Command(bin, "serve", "--max-text", "0", "--admin", "0.0.0.0:1").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, output %s", err, out)
	}
	for _, want := range []string{"--max-text: 0 is out of range", "--admin: the admin endpoints must listen on a loopback address"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
	out, err = exec.Command(bin).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "server-only build") {
		t.Errorf("parley without arguments in the server-only build: %v, %s", err, out)
	}
	out, err = exec.Command(bin, "bogus").CombinedOutput()
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), `unknown command "bogus"`) {
		t.Errorf("unknown command: %v, %s", err, out)
	}
	out, err = exec.Command(bin, "serve", "-h").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PARLEY_ADDR") {
		t.Errorf("serve -h: %v, %s", err, out)
	}
}

// TestServePortTaken: an address in use is a clear error, not a hang.
func TestServePortTaken(t *testing.T) {
	first, err := Parse([]string{"--addr", "127.0.0.1:0", "--log-format", "json"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logs := newLogLines()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, first, logs) }()
	defer func() { cancel(); <-done }()
	r := decodeReady(t, logs.wait(t, "parley serve ready", 30*time.Second))

	second := first
	second.Addr = r.Addr
	err = Serve(context.Background(), second, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--addr "+r.Addr) {
		t.Fatalf("a second server on %s: %v", r.Addr, err)
	}
}
