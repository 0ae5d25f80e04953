package bridge

import (
	"testing"

	"parley/protocol"
)

// A 2 MB image sent from the UI reports its upload in steps as the bytes
// are written to the transport (not 0 then 100 %): increasing, at most a
// fiftieth of the image apart, the last equal to the size, all before
// the acknowledgement.
func TestImageUploadProgressSteps(t *testing.T) {
	const size = 2 << 20
	ts := runServer(t, protocol.Limits{Image: size})
	b, rec := newBridge(t)
	connect(t, b, ts, "Alice", "lobby")
	m, err := b.SendImage(SendImageRequest{Conv: "r:lobby", Name: "big.png", Data: b64(testPNG(t, 32, 32, size))})
	if err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "ack", func(ev Event) bool { return ev.Kind == EvAck && ev.Local == m.Local })
	var sent []int64
	acked := false
	rec.mu.Lock()
	for _, ev := range rec.events {
		switch {
		case ev.Kind == EvAck && ev.Local == m.Local:
			acked = true
		case ev.Kind == EvProgress && ev.Local == m.Local:
			if acked {
				t.Errorf("progress %d after the ack", ev.Sent)
			}
			if ev.Total != size || ev.Conv != "r:lobby" {
				t.Errorf("progress event %+v", ev)
			}
			sent = append(sent, ev.Sent)
		}
	}
	rec.mu.Unlock()
	if len(sent) < 10 || sent[0] != 0 || sent[len(sent)-1] != size {
		t.Fatalf("%d progress events: %v", len(sent), sent)
	}
	for i := 1; i < len(sent); i++ {
		if sent[i] <= sent[i-1] {
			t.Fatalf("progress not increasing: %v", sent)
		}
	}
	if len(sent) > 52 {
		t.Fatalf("%d progress events for one image: the UI is flooded", len(sent))
	}
}

// uploadProgress: the first and last reports always go out, small steps
// are merged, and an upload that starts over reports 0 again.
func TestUploadProgressThrottle(t *testing.T) {
	var got []int64
	p := newUploadProgress(1000<<10, func(n int64) { got = append(got, n) })
	for _, n := range []int64{0, 10 << 10, 30 << 10, 64 << 10, 100 << 10, 0, 50 << 10, 1000 << 10} {
		p.update(n, 1000<<10)
	}
	want := []int64{0, 64 << 10, 0, 1000 << 10}
	if len(got) != len(want) {
		t.Fatalf("reports %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("reports %v, want %v", got, want)
		}
	}
}
