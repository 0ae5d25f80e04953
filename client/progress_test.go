package client

import (
	"bytes"
	"io"
	"testing"
)

// countingWriter counts the bytes written to it and checks, on every
// progress report, that nothing was reported before it was written.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// The reader given to a transport reports only bytes the transport has
// written (io.Copy's read-write loop, through a LimitReader as the
// transports use it), in increasing order, ending at the total.
func TestWrittenReaderReportsWrittenBytes(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 300_000)
	w := &countingWriter{}
	var reports []int64
	wr := newWrittenReader(bytes.NewReader(body), int64(len(body)), func(sent, total int64) {
		if total != int64(len(body)) {
			t.Fatalf("total %d", total)
		}
		if sent > w.n {
			t.Fatalf("reported %d bytes sent when %d were written", sent, w.n)
		}
		reports = append(reports, sent)
	})
	n, err := io.Copy(w, io.LimitReader(wr, int64(len(body))))
	if err != nil || n != int64(len(body)) {
		t.Fatalf("copy: %d %v", n, err)
	}
	wr.done()
	if len(reports) < 5 || reports[0] != 0 || reports[len(reports)-1] != int64(len(body)) {
		t.Fatalf("reports %v", reports)
	}
	for i := 1; i < len(reports); i++ {
		if reports[i] <= reports[i-1] {
			t.Fatalf("reports not increasing: %v", reports)
		}
	}
}
