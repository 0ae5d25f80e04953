//go:build !js

package client_test

import (
	"bytes"
	"sync"
	"testing"

	"parley/client"
	"parley/server"
)

// An image upload over real WebTransport and over the in-process
// transport reports its progress as it is written: several steps between
// 0 and the size, increasing, the last equal to the size, all before the
// acknowledgement returns.
func TestSendImageProgress(t *testing.T) {
	const size = 2 << 20
	img := append(append([]byte{}, pngBytes...), make([]byte, size-len(pngBytes))...)
	ts := startServer(t, "127.0.0.1:0", server.Config{TLS: testTLS(t)})
	check := func(t *testing.T, c *client.Client) {
		ctx := ctxT(t)
		if _, err := c.Join(ctx, "pics"); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var got []int64
		sent, err := c.SendImage(ctx, "pics", "", "big.png", bytes.NewReader(img), int64(len(img)), client.WithProgress(func(n, total int64) {
			if total != size {
				t.Errorf("total %d, want %d", total, size)
			}
			mu.Lock()
			got = append(got, n)
			mu.Unlock()
		}))
		if err != nil || sent.Image == nil || sent.Image.Size != size {
			t.Fatalf("send: %+v %v", sent, err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(got) < 8 || got[0] != 0 || got[len(got)-1] != size {
			t.Fatalf("%d progress reports, first %v, last %v", len(got), got[:min(3, len(got))], got[max(0, len(got)-3):])
		}
		for i := 1; i < len(got); i++ {
			if got[i] <= got[i-1] {
				t.Fatalf("progress went from %d to %d", got[i-1], got[i])
			}
		}
	}
	t.Run("webtransport", func(t *testing.T) {
		c := ts.dial(t, "Uploader")
		if c.Transport() != "webtransport" {
			t.Fatalf("transport %q", c.Transport())
		}
		check(t, c)
	})
	t.Run("inprocess", func(t *testing.T) {
		c := ts.dial(t, "Host", func(cfg *client.Config) { cfg.Dialer = client.NewInProcessDialer(ts.srv.DialInProcess) })
		if c.Transport() != "inprocess" {
			t.Fatalf("transport %q", c.Transport())
		}
		check(t, c)
	})
}
