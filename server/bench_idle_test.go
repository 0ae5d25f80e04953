package server_test

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"

	"parley/server"
)

// BenchmarkIdleSessions measures what idle sessions cost the server
// (DESIGN.md: 10,000 idle sessions in at most 600 MB). A load generator
// in a child process (on CPU 1 when there are two) opens the sessions over
// real QUIC/WebTransport on loopback: hello, then a join, spread over
// rooms of 20; then nothing. The server's memory is read once they are
// all in and idle: the Go runtime's (heap in use, stacks; after a GC)
// and the process's resident set, both as the growth over the server
// before the sessions. The sessions are opened once whatever b.N is: run
// it with -benchtime 1x. PARLEY_BENCH_IDLE sets how many (default 10000).
func BenchmarkIdleSessions(b *testing.B) {
	n := 10000
	if v := os.Getenv("PARLEY_BENCH_IDLE"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("PARLEY_BENCH_IDLE=%q: want a positive number", v)
		}
	}
	ts := startServer(b, server.Config{Rate: -1, MaxSessions: n + 10})
	pinned := pinServer(b)
	if os.Getenv("PARLEY_BENCH_PROFILE") != "" {
		runtime.MemProfileRate = 4096 // a finer heap profile of the sessions
	}
	before := serverMemory()
	conf := loadConf{Addr: ts.addr, Hash: ts.hash, Room: "idle", Members: n, Rate: 1, RoomSize: 20, SetupSecs: 600}
	next, stdin := startLoadgen(b, conf, pinned)
	next("ready")
	after := serverMemory()
	// PARLEY_BENCH_PROFILE=prefix writes the heap and goroutine profiles
	// of the server with the sessions idle: prefix.heap, prefix.goroutine.
	if prefix := os.Getenv("PARLEY_BENCH_PROFILE"); prefix != "" {
		for _, name := range []string{"heap", "goroutine"} {
			f, err := os.Create(prefix + "." + name)
			if err != nil {
				b.Fatal(err)
			}
			if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	}
	sessions := ts.srv.Metrics().Sessions
	if sessions < int64(n) {
		b.Fatalf("%d sessions open on the server, want %d", sessions, n)
	}
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		b.Fatal(err)
	}
	next("done")
	var res loadResult
	if err := json.Unmarshal([]byte(next("")), &res); err != nil {
		b.Fatalf("load generator result: %v", err)
	}
	if res.Err != "" {
		b.Fatalf("load generator: %s", res.Err)
	}
	per := func(a, b uint64) float64 { return float64(int64(a)-int64(b)) / float64(n) }
	b.ReportMetric(float64(n), "sessions")
	b.ReportMetric(per(after.goBytes, before.goBytes)/1024, "go-KiB/session")
	b.ReportMetric(per(after.stack, before.stack)/1024, "stack-KiB/session")
	b.ReportMetric(per(after.rss, before.rss)/1024, "rss-KiB/session")
	b.ReportMetric(float64(int64(after.rss)-int64(before.rss))/(1<<20), "rss-MiB")
	b.ReportMetric(float64(after.goroutines-before.goroutines)/float64(n), "goroutines/session")
}

// memory is what the server process holds.
type memory struct {
	goBytes    uint64 // heap in use and goroutine stacks, after a GC
	stack      uint64 // goroutine stacks
	rss        uint64 // resident set, bytes
	goroutines int
}

func serverMemory() memory {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := memory{goBytes: ms.HeapInuse + ms.StackInuse, stack: ms.StackInuse, goroutines: runtime.NumGoroutine()}
	if f, err := os.Open("/proc/self/status"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
				kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				m.rss = kb * 1024
			}
		}
	}
	return m
}
