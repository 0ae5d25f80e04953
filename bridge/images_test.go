package bridge

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"parley/client"
	"parley/protocol"
)

func TestImageSendAndFetch(t *testing.T) {
	const limit = 4096
	ts := runServer(t, protocol.Limits{Image: limit})
	b, rec := newBridge(t)
	connect(t, b, ts, "Alice", "lobby")
	bob := goClient(t, ts, "Bob", "lobby")

	// From the UI (base64), exactly at the limit: accepted, Bob gets it.
	pic := testPNG(t, 16, 12, limit)
	if len(pic) != limit {
		t.Fatalf("test image is %d bytes", len(pic))
	}
	m, err := b.SendImage(SendImageRequest{Conv: "r:lobby", Name: "cat.png", Data: b64(pic)})
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != MsgImage || !m.Pending || m.Image.W != 16 || m.Image.H != 12 || m.Image.Mime != "image/png" {
		t.Fatalf("pending image: %+v %+v", m, m.Image)
	}
	rec.waitFor(t, "progress", func(ev Event) bool {
		return ev.Kind == EvProgress && ev.Local == m.Local && ev.Sent == limit && ev.Total == limit
	})
	echo := rec.waitFor(t, "image message with id", func(ev Event) bool {
		return ev.Kind == EvMessage && ev.Message.Local == m.Local && ev.Message.Image != nil && ev.Message.Image.ID != ""
	})
	rec.waitFor(t, "image ack", func(ev Event) bool { return ev.Kind == EvAck && ev.Local == m.Local && ev.Seq > 0 })
	got := waitClient(t, bob, "image", func(e client.Event) bool { return e.Kind == client.EventMessage && e.Message.Image != nil })
	if got.Message.Image.ID != echo.Message.Image.ID || got.Message.Image.Name != "cat.png" {
		t.Fatalf("Bob got %+v", got.Message.Image)
	}

	// One byte past the limit: refused before anything is sent.
	_, err = b.SendImage(SendImageRequest{Conv: "r:lobby", Name: "big.png", Data: b64(testPNG(t, 16, 12, limit+1))})
	if protocol.CodeOf(err) != protocol.CodeTooLarge {
		t.Fatalf("over the limit: %v", err)
	}
	// Not an image, and not base64.
	if _, err = b.SendImage(SendImageRequest{Conv: "r:lobby", Name: "a.txt", Data: b64([]byte("hello, not an image"))}); protocol.CodeOf(err) != protocol.CodeBadImage {
		t.Fatalf("not an image: %v", err)
	}
	if _, err = b.SendImage(SendImageRequest{Conv: "r:lobby", Name: "x.png", Data: "%%%"}); protocol.CodeOf(err) != protocol.CodeBadRequest {
		t.Fatalf("bad base64: %v", err)
	}
	if _, err = b.SendImage(SendImageRequest{Conv: "r:lobby", Name: strings.Repeat("n", protocol.MaxImageNameLen+1), Data: b64(pic)}); protocol.CodeOf(err) != protocol.CodeBadRequest {
		t.Fatalf("long name: %v", err)
	}

	// From a file (the desktop's dialog and drops), privately to Bob.
	if _, err := b.OpenPrivate("Bob"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dog.png")
	dog := testPNG(t, 8, 8, 0)
	if err := os.WriteFile(path, dog, 0o600); err != nil {
		t.Fatal(err)
	}
	m2, err := b.SendImageFile("p:bob", path)
	if err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "file image ack", func(ev Event) bool { return ev.Kind == EvAck && ev.Local == m2.Local })
	got = waitClient(t, bob, "private image", func(e client.Event) bool { return e.Kind == client.EventMessage && e.Message.Image != nil })
	if !got.Message.Private() || got.Message.Image.Name != "dog.png" {
		t.Fatalf("Bob got %+v", got.Message)
	}

	// Bob sends one back; Alice fetches it as a data: URL with the same bytes.
	back := testPNG(t, 5, 7, 0)
	if _, err := bob.SendImage(context.Background(), "lobby", "", "back.png", bytes.NewReader(back), int64(len(back))); err != nil {
		t.Fatal(err)
	}
	ev := rec.waitFor(t, "Bob's image", func(ev Event) bool {
		return ev.Kind == EvMessage && ev.Message.From == "Bob" && ev.Message.Image != nil
	})
	if ev.Message.Kind != MsgImage || ev.Message.Image.W != 5 || ev.Message.Image.H != 7 {
		t.Fatalf("image message: %+v", ev.Message.Image)
	}
	data, err := b.FetchImage(ev.Message.Image.ID)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(data.URL, "data:image/png;base64,"))
	if err != nil || !bytes.Equal(raw, back) || data.Mime != "image/png" {
		t.Fatalf("fetched %d bytes (%v), mime %s", len(raw), err, data.Mime)
	}
	for _, bad := range []string{"", "abc", strings.Repeat("G", 64), strings.Repeat("A", 64)} {
		if _, err := b.FetchImage(bad); protocol.CodeOf(err) != protocol.CodeBadRequest {
			t.Fatalf("FetchImage(%q): %v", bad, err)
		}
	}
	if _, err := b.FetchImage(strings.Repeat("a", 64)); protocol.CodeOf(err) != protocol.CodeNotFound {
		t.Fatalf("unknown image: %v", err)
	}
}
