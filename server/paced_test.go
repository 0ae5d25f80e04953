package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"testing"

	"golang.org/x/time/rate"
)

// The paced reader of uploads passes every byte through unchanged, never
// more than uploadBurst per read, and stops when its context ends. (Its
// effect on the chat is measured by BenchmarkFanoutRemote's image case.)
func TestPacedReader(t *testing.T) {
	data := make([]byte, 3*uploadBurst+123)
	rand.Read(data)
	p := &pacedReader{r: bytes.NewReader(data), ctx: context.Background(), lim: rate.NewLimiter(rate.Inf, uploadBurst)}
	var got bytes.Buffer
	buf := make([]byte, 4*uploadBurst)
	for {
		n, err := p.Read(buf)
		if n > uploadBurst {
			t.Fatalf("read %d bytes at once, at most %d", n, uploadBurst)
		}
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatal("the paced reader changed the bytes")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p = &pacedReader{r: bytes.NewReader(data), ctx: ctx, lim: rate.NewLimiter(1, uploadBurst)}
	if _, err := p.Read(buf); !errors.Is(err, context.Canceled) {
		t.Fatalf("a read with an ended context: %v, want context.Canceled", err)
	}
}
