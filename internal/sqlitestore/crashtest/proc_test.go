package crashtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"parley/internal/certs"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// serverBin builds crashserver once per test binary.
func serverBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "crashserver-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "crashserver")
		out, err := exec.Command("go", "build", "-o", binPath, "parley/internal/sqlitestore/crashtest/crashserver").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build crashserver: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// certFiles writes a self-signed ECDSA P-256 certificate for 127.0.0.1
// and localhost, valid for less than 14 days, and returns its files and
// SHA-256 hash. The same certificate serves every restart, so the client's
// pin holds.
func certFiles(t *testing.T, dir string) (cert, key, hash string) {
	t.Helper()
	p, err := certs.Persistent(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, certs.CertFile), filepath.Join(dir, certs.KeyFile), p.Hash()
}

// proc is one run of crashserver.
type proc struct {
	cmd    *exec.Cmd
	addr   string
	hash   string
	exited chan struct{}
	state  *os.ProcessState
	stderr *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for a writer and readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startServer runs crashserver and waits for its READY line.
func startServer(t *testing.T, data, addr, cert, key string) *proc {
	t.Helper()
	p := &proc{exited: make(chan struct{}), stderr: &syncBuffer{}}
	p.cmd = exec.Command(serverBin(t), "-data", data, "-addr", addr, "-cert", cert, "-key", key)
	p.cmd.Stderr = p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "READY ") {
				ready <- sc.Text()
			}
		}
		p.cmd.Wait()
		p.state = p.cmd.ProcessState
		close(p.exited)
	}()
	t.Cleanup(func() { p.kill() })
	select {
	case line := <-ready:
		f := strings.Fields(line)
		p.addr, p.hash = f[1], f[2]
	case <-p.exited:
		t.Fatalf("crashserver exited before it was ready: %v\n%s", p.state, p.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("crashserver not ready within 30 s\n%s", p.stderr)
	}
	return p
}

// kill SIGKILLs the server and waits for it to be gone.
func (p *proc) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// term SIGTERMs the server and returns how long it took to exit, and its
// exit code, or fails t if it takes longer than limit.
func (p *proc) term(t *testing.T, limit time.Duration) (time.Duration, int) {
	t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		return time.Since(start), p.state.ExitCode()
	case <-time.After(limit):
		t.Fatalf("crashserver still running %v after SIGTERM\n%s", limit, p.stderr)
		return 0, 0
	}
}
