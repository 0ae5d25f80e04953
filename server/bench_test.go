package server_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"parley/protocol"
	"parley/server"
)

// BenchmarkFanout: one sender, a room of 100 members on real QUIC over
// loopback. Each message carries its send time; every member records the
// delay to its arrival. Reports deliveries/s and p50/p99 latency in µs.
// "pipelined" keeps 64 messages in flight (throughput); "one-by-one"
// waits for each ok (latency without queueing).
func BenchmarkFanout(b *testing.B) {
	b.Run("pipelined", func(b *testing.B) { benchFanout(b, 100, 64) })
	b.Run("one-by-one", func(b *testing.B) { benchFanout(b, 100, 1) })
}

// BenchmarkFanoutSmall is BenchmarkFanout with 10 members, to tell the
// server's cost from the 100 test clients' on a small machine.
func BenchmarkFanoutSmall(b *testing.B) {
	b.Run("one-by-one", func(b *testing.B) { benchFanout(b, 10, 1) })
}

func benchFanout(b *testing.B, members, window int) {
	ts := startServer(b, server.Config{Rate: -1})
	sender := dialWT(b, ts)
	sender.hello("sender")
	sender.join("bench")

	var (
		mu      sync.Mutex
		lat     []time.Duration
		got     atomic.Int64
		allDone = make(chan struct{})
		target  atomic.Int64
	)
	target.Store(-1)
	var wg sync.WaitGroup
	for i := range members {
		c, err := tryDialWT(ts.addr, ts.hash, nil)
		if err != nil {
			b.Fatal(err)
		}
		c.t = b
		b.Cleanup(c.close)
		c.hello(fmt.Sprintf("m%03d", i))
		c.join("bench")
		for len(c.in) > 0 {
			<-c.in
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1024)
			defer func() {
				mu.Lock()
				lat = append(lat, local...)
				mu.Unlock()
			}()
			for {
				var m inMsg
				select {
				case m = <-c.in:
				case <-c.gone:
					return
				case <-allDone:
					return
				}
				i := bytes.Index(m.text, []byte(`"text":"t`))
				if i < 0 {
					continue
				}
				rest := m.text[i+9:]
				j := bytes.IndexByte(rest, '"')
				ns, err := strconv.ParseInt(string(rest[:j]), 10, 64)
				if err != nil {
					continue
				}
				local = append(local, time.Duration(time.Now().UnixNano()-ns))
				if n := got.Add(1); n == target.Load() {
					close(allDone)
				}
			}
		}()
	}
	// Drain the joined events the sender got.
	sender.quiet2(protocol.TypeJoined)

	b.ResetTimer()
	start := time.Now()
	target.Store(int64(b.N * members))
	sent, answered := 0, 0
	for answered < b.N {
		for sent < b.N && sent-answered < window {
			sender.nextID++
			fmt.Fprintf(sender.ctrl, `{"type":"say","id":%d,"room":"bench","text":"t%d"}`+"\n", sender.nextID, time.Now().UnixNano())
			sent++
		}
		f := sender.next()
		if f.Type == protocol.TypeErr {
			b.Fatalf("say: %s %s", f.Code, f.Message)
		}
		if f.Type == protocol.TypeOK {
			answered++
		}
	}
	select {
	case <-allDone:
	case <-time.After(time.Minute):
		b.Fatalf("only %d of %d deliveries", got.Load(), int64(b.N*members))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	wg.Wait()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "deliveries/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
	_ = context.Background
}
