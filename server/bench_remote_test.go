package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"parley/server"
)

// BenchmarkFanoutRemote measures the server's own cost of room fan-out
// (DESIGN.md "What fast means here"): the server runs alone in the
// benchmark process, the members and the sender in a child process (the
// test binary re-executed as a load generator, see loadgen_test.go),
// talking real QUIC/WebTransport on loopback. With taskset and two CPUs
// the server is pinned to CPU 0 (GOMAXPROCS 1) and the load to CPU 1.
//
// The load is open loop: the sender posts 100 messages per second
// whatever the answers; one benchmark op is one second of it. Reported:
//   - cpu-µs/delivery: the server process's CPU time (getrusage, user +
//     system) over the run divided by the messages delivered to members;
//   - deliveries/s, p50-µs and p99-µs (send time in the text, arrival
//     time in the child: one clock);
//   - allocs/delivery: the server process's heap allocations (everything:
//     quic-go included) per delivery;
//   - server-cpu-% and load-cpu-%: busy share of each side's core (a load
//     generator near 100 % means the figures are its limit, not the server's);
//   - others-on-core0-%: when pinned, the busy time of the server's core
//     (/proc/stat) not spent by the server: other processes on a shared
//     machine, interrupts; they take the core from the server and inflate
//     its latencies.
//
// The "image" case adds a 1 MB image upload every second in the same room
// (DESIGN.md: chat p99 within 10 % of its value without images); the
// "websocket" case is the same room over the WebSocket fallback (TCP), to
// tell QUIC's per-packet cost from the core's.
func BenchmarkFanoutRemote(b *testing.B) {
	b.Run("members=100", func(b *testing.B) { benchRemote(b, 100, 0, false) })
	b.Run("members=100+image=1MB", func(b *testing.B) { benchRemote(b, 100, 1<<20, false) })
	b.Run("members=500", func(b *testing.B) { benchRemote(b, 500, 0, false) })
	b.Run("members=100+websocket", func(b *testing.B) { benchRemote(b, 100, 0, true) })
}

func benchRemote(b *testing.B, members, imageBytes int, ws bool) {
	const rate = 100 // room messages per second
	ts := startServer(b, server.Config{Rate: -1})
	pinned := pinServer(b)
	conf := loadConf{
		Addr: ts.addr, Hash: ts.hash, Room: "bench",
		Members: members, Rate: rate, Messages: b.N * rate, ImageBytes: imageBytes, WebSocket: ws,
	}
	next, stdin := startLoadgen(b, conf, pinned)
	next("ready")

	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	// PARLEY_BENCH_CPUPROFILE=file profiles the server during the load
	// only (go test's -cpuprofile also covers the setup's handshakes).
	if path := os.Getenv("PARLEY_BENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	b.ResetTimer()
	cpu0, core0, t0 := cpuNow(), coreBusy(0), time.Now()
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		b.Fatal(err)
	}
	next("done")
	cpu, core, elapsed := cpuNow()-cpu0, coreBusy(0)-core0, time.Since(t0)
	b.StopTimer()
	runtime.ReadMemStats(&ms1)

	var res loadResult
	if err := json.Unmarshal([]byte(next("")), &res); err != nil {
		b.Fatalf("load generator result: %v", err)
	}
	if res.Err != "" {
		b.Fatalf("load generator: %s", res.Err)
	}
	if res.Delivered == 0 {
		b.Fatal("nothing delivered")
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(res.Delivered), "cpu-µs/delivery")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(res.Delivered), "allocs/delivery")
	b.ReportMetric(float64(res.Delivered)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(res.P50, "p50-µs")
	b.ReportMetric(res.P99, "p99-µs")
	b.ReportMetric(100*cpu.Seconds()/elapsed.Seconds(), "server-cpu-%")
	b.ReportMetric(100*res.CPUSecs/elapsed.Seconds(), "load-cpu-%")
	if pinned && core0 >= 0 {
		b.ReportMetric(100*max(0, core-cpu).Seconds()/elapsed.Seconds(), "others-on-core0-%")
	}
	if imageBytes > 0 {
		b.ReportMetric(float64(res.Images), "images")
	}
}

// startLoadgen starts the load generator (this test binary, see TestMain)
// with conf, on CPU 1 when pinned. next returns its next stdout line,
// failing the benchmark if it is not want (any line for ""); a line on
// stdin is its "go".
func startLoadgen(b *testing.B, conf loadConf, pinned bool) (next func(want string) string, stdin io.WriteCloser) {
	b.Helper()
	confJSON, _ := json.Marshal(conf)
	var cmd *exec.Cmd
	if pinned {
		cmd = exec.Command("taskset", "-c", "1", os.Args[0])
	} else {
		cmd = exec.Command(os.Args[0])
	}
	cmd.Env = append(os.Environ(), loadgenEnv+"="+string(confJSON))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(waitTimeout):
			cmd.Process.Kill()
			<-done
		}
	})
	lines := make(chan string, 4)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		io.Copy(io.Discard, stdout)
	}()
	wait := max(2*time.Minute, time.Duration(conf.SetupSecs+30)*time.Second)
	next = func(want string) string {
		b.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				b.Fatalf("load generator ended before %q: %s", want, stderr.String())
			}
			if want != "" && l != want {
				b.Fatalf("load generator: want %q, got %s (stderr: %s)", want, l, stderr.String())
			}
			return l
		case <-time.After(wait):
			b.Fatalf("load generator: no %q in time", want)
		}
		return ""
	}
	return next, stdin
}

// pinServer pins every thread of this process to CPU 0 and sets
// GOMAXPROCS to 1 for the benchmark (restored at its end), when taskset
// exists and there are at least two CPUs. It reports whether it did.
func pinServer(b *testing.B) bool {
	if runtime.NumCPU() < 2 {
		b.Log("one CPU: server and load share it")
		return false
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		b.Log("no taskset: server and load are not pinned")
		return false
	}
	pid := strconv.Itoa(os.Getpid())
	out, err := exec.Command("taskset", "-p", pid).Output()
	if err != nil {
		b.Logf("taskset -p: %v: not pinned", err)
		return false
	}
	// "pid N's current affinity mask: 3"
	f := strings.Fields(string(out))
	mask := f[len(f)-1]
	if err := exec.Command("taskset", "-a", "-p", "-c", "0", pid).Run(); err != nil {
		b.Logf("taskset -a -p -c 0: %v: not pinned", err)
		return false
	}
	procs := runtime.GOMAXPROCS(1)
	b.Cleanup(func() {
		runtime.GOMAXPROCS(procs)
		if err := exec.Command("taskset", "-a", "-p", mask, pid).Run(); err != nil {
			b.Errorf("restore affinity %s: %v", mask, err)
		}
	})
	return true
}

// coreBusy returns the time CPU n has been busy (not idle or waiting
// for I/O) since boot, from /proc/stat, or -1 where that is missing.
func coreBusy(n int) time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	prefix := "cpu" + strconv.Itoa(n) + " "
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		var busy int64
		for i, f := range strings.Fields(line)[1:] {
			v, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return -1
			}
			if i != 3 && i != 4 && i < 8 { // idle, iowait; guest time is in user
				busy += v
			}
		}
		return time.Duration(busy) * time.Second / 100 // USER_HZ
	}
	return -1
}
