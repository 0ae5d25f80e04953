//go:build !js

package client_test

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"parley/client"
	"parley/server"
)

// BenchmarkRoom100: one sender, a room of 100 member clients, real QUIC on
// loopback. Each op is one message delivered to all 100; it reports
// deliveries/s and the p50/p99 latency from Say to each delivery.
func BenchmarkRoom100(b *testing.B) {
	const members = 100
	ts := startServer(b, "127.0.0.1:0", server.Config{QueueSize: 1 << 16})
	ctx := ctxT(b)
	sender := ts.dial(b, "sender")
	if _, err := sender.Join(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	cs := make([]*client.Client, members)
	for i := range cs {
		cs[i] = ts.dial(b, fmt.Sprintf("m%03d", i))
		if _, err := cs[i].Join(ctx, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := 0
			local := make([]time.Duration, 0, b.N)
			for got < b.N {
				ev, ok := <-c.Events()
				if !ok {
					return
				}
				if ev.Kind != client.EventMessage {
					continue
				}
				ns, err := strconv.ParseInt(ev.Message.Text, 10, 64)
				if err != nil {
					continue
				}
				local = append(local, time.Since(time.Unix(0, ns)))
				got++
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	// Keep up to 64 messages in flight so the pipeline stays full.
	sem := make(chan struct{}, 64)
	var swg sync.WaitGroup
	for i := 0; i < b.N; i++ {
		sem <- struct{}{}
		swg.Add(1)
		go func() {
			defer swg.Done()
			defer func() { <-sem }()
			if _, err := sender.Say(ctx, "bench", strconv.FormatInt(time.Now().UnixNano(), 10)); err != nil {
				b.Error(err)
			}
		}()
	}
	swg.Wait()
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) == 0 {
		b.Fatal("no deliveries")
	}
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
