package bridge

import (
	"testing"
	"time"

	"parley/client"
)

// BenchmarkRoomMessageToUI measures the bridge's cost per arriving room
// message: filing it (unread, conversation) and batching the UI events.
func BenchmarkRoomMessageToUI(b *testing.B) {
	var batches, events int
	br := New(Options{Emit: func(_ string, data any) { batches++; events += len(data.([]Event)) }})
	br.convs["r:lobby"] = &conv{id: "r:lobby", kind: KindRoom, name: "lobby", members: []string{"Alice", "Bob"}}
	ev := client.Event{Kind: client.EventMessage, Room: "lobby", Message: &client.Message{Room: "lobby", From: "Bob", Text: "hello there", TS: time.Now()}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		ev.Message.Seq = int64(i + 1)
		br.handle(ev, br.gen)
	}
	b.StopTimer()
	br.em.close()
	if batches > 0 {
		b.ReportMetric(float64(events)/float64(batches), "events/batch")
	}
}
