package sqlitestore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"parley/server"
)

// benchAppend measures durable acknowledged appends per second: appenders
// goroutines, each the writer of its own room with up to window appends in
// flight (a session pipelining its says), counting a message once its done
// callback reported success.
func benchAppend(b *testing.B, s server.Store, appenders, window int) {
	ctx := context.Background()
	convs := make([]server.ConvID, appenders)
	for i := range convs {
		convs[i] = server.RoomConv(fmt.Sprintf("bench%d", i))
		if _, err := s.Conv(ctx, convs[i], fmt.Sprintf("Bench%d", i)); err != nil {
			b.Fatal(err)
		}
	}
	text := "a chat message of about the usual length, say seventy or eighty bytes."
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < appenders; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem := make(chan struct{}, window)
			var inflight sync.WaitGroup
			seq := int64(0)
			for next.Add(1) <= int64(b.N) {
				sem <- struct{}{}
				seq++
				inflight.Add(1)
				s.Append(&server.Message{Conv: convs[i], Seq: seq, TS: time.Now(), Room: "Bench", From: "Alice",
					Text: text, Owner: fmt.Sprintf("g:%d", i), Nonce: fmt.Sprintf("%d", seq)}, func(err error) {
					if err != nil {
						failed.Add(1)
					}
					<-sem
					inflight.Done()
				})
			}
			inflight.Wait()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d appends failed", n)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}

// BenchmarkAppendDurable is the SQLite store with group commit and
// synchronous=FULL (an fsync per batch).
func BenchmarkAppendDurable(b *testing.B) {
	for _, c := range []struct{ appenders, window int }{{64, 16}, {256, 4}, {16, 1}} {
		b.Run(fmt.Sprintf("appenders=%d/window=%d", c.appenders, c.window), func(b *testing.B) {
			s := openTest(b, Options{})
			defer s.Close()
			benchAppend(b, s, c.appenders, c.window)
		})
	}
}

// BenchmarkAppendMemory is the same load against the server's in-memory
// store, for comparison.
func BenchmarkAppendMemory(b *testing.B) {
	b.Run("appenders=64/window=16", func(b *testing.B) {
		s := server.NewMemoryStore()
		defer s.Close()
		benchAppend(b, s, 64, 16)
	})
}
