package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"testing"

	"parley/protocol"
	"parley/server"
)

// pngOf returns a real PNG of w×h pixels.
func pngOf(t testing.TB, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngHeader returns a PNG signature and IHDR declaring w×h, padded to size
// bytes: enough for a header-only check, never decodable.
func pngHeader(w, h uint32, size int) []byte {
	var b bytes.Buffer
	b.Write([]byte("\x89PNG\r\n\x1a\n"))
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	binary.Write(&b, binary.BigEndian, uint32(13))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	for b.Len() < size {
		b.WriteByte(0)
	}
	return b.Bytes()
}

func imageTransports(t *testing.T, cfg server.Config, f func(t *testing.T, ts *testServer, dial func() *rawClient)) {
	for _, kind := range []string{"webtransport", "websocket"} {
		t.Run(kind, func(t *testing.T) {
			ts := startServer(t, cfg)
			f(t, ts, func() *rawClient {
				if kind == "websocket" {
					return dialWS(t, ts)
				}
				return dialWT(t, ts)
			})
		})
	}
}

func TestSeedImageToRoom(t *testing.T) {
	imageTransports(t, server.Config{}, func(t *testing.T, ts *testServer, dial func() *rawClient) {
		a, b, c := dial(), dial(), dial()
		a.hello("Alice")
		b.hello("Bob")
		c.hello("Carol")
		a.join("lobby")
		b.join("lobby")
		a.eventOf(protocol.TypeJoined)
		body := pngOf(t, 64, 48)
		sum := sha256.Sum256(body)
		id := a.upload(map[string]any{"type": "image", "room": "lobby", "name": "cat.png", "size": len(body)}, body)
		ok := a.answer(id)
		meta := ok.Image.Meta
		if ok.Type != "ok" || ok.Seq == nil || *ok.Seq != 1 || meta == nil || meta.ID != hex.EncodeToString(sum[:]) ||
			meta.Mime != "image/png" || meta.W != 64 || meta.H != 48 || meta.Size != int64(len(body)) || meta.Name != "cat.png" {
			t.Fatalf("image ok: %+v meta %+v", ok, meta)
		}
		ev := b.eventOf(protocol.TypeMsg)
		if ev.Image.Meta == nil || *ev.Image.Meta != *meta || ev.From != "Alice" || *ev.Seq != 1 {
			t.Fatalf("Bob got %+v", ev)
		}
		hdr, got := b.fetch(meta.ID)
		if hdr.Type != protocol.TypeImage || hdr.Mime != "image/png" || hdr.Size != int64(len(body)) || !bytes.Equal(got, body) {
			t.Fatalf("fetch: %+v, %d bytes", hdr, len(got))
		}
		// Carol is not in the room: not_found, like an unknown id.
		if hdr, _ := c.fetch(meta.ID); hdr.Code != protocol.CodeNotFound {
			t.Fatalf("outsider fetch: %+v", hdr)
		}
		if hdr, _ := b.fetch(hex.EncodeToString(make([]byte, 32))); hdr.Code != protocol.CodeNotFound {
			t.Fatalf("unknown fetch: %+v", hdr)
		}
		// A text file named cat.png.
		txt := []byte("meow meow meow, I am not an image\n")
		a.upload(map[string]any{"type": "image", "room": "lobby", "name": "cat.png", "size": len(txt)}, txt)
		if f := a.next(); f.Code != protocol.CodeBadImage {
			t.Fatalf("text as image: %+v", f)
		}
		a.ok(map[string]any{"type": "say", "room": "lobby", "text": "still here"})
	})
}

func TestImageLimits(t *testing.T) {
	const limit = 4096
	imageTransports(t, server.Config{Limits: protocol.Limits{Image: limit}}, func(t *testing.T, ts *testServer, dial func() *rawClient) {
		a := dial()
		a.hello("Alice")
		a.join("lobby")
		up := func(body []byte, size int, name string) *protocol.Frame {
			t.Helper()
			return a.answer(a.upload(map[string]any{"type": "image", "room": "lobby", "name": name, "size": size}, body))
		}
		atMax := append(pngOf(t, 8, 8), make([]byte, limit)...)[:limit]
		if f := up(atMax, limit, "max.png"); f.Type != "ok" {
			t.Fatalf("image at the limit: %+v", f)
		}
		over := append(atMax, 0)
		if f := up(over, limit+1, "over.png"); f.Code != protocol.CodeTooLarge {
			t.Fatalf("image over the limit: %+v", f)
		}
		if f := up(pngHeader(100000, 100000, 200), 200, "huge.png"); f.Code != protocol.CodeTooLarge {
			t.Fatalf("100000×100000: %+v", f)
		}
		if f := up(pngHeader(8000, 5000, 200), 200, "40mp.png"); f.Type != "ok" || f.Image.Meta.W != 8000 {
			t.Fatalf("40 MP exactly: %+v", f)
		}
		if f := up(pngHeader(8000, 5001, 200), 200, "40mp+.png"); f.Code != protocol.CodeTooLarge {
			t.Fatalf("40 MP + a row: %+v", f)
		}
		name255 := string(bytes.Repeat([]byte("n"), 255))
		if f := up(pngOf(t, 2, 2), len(pngOf(t, 2, 2)), name255); f.Type != "ok" {
			t.Fatalf("name of 255 bytes: %+v", f)
		}
		if f := up(pngOf(t, 2, 2), len(pngOf(t, 2, 2)), name255+"n"); f.Code != protocol.CodeBadRequest {
			t.Fatalf("name of 256 bytes: %+v", f)
		}
		small := pngOf(t, 4, 4)
		if f := up(small, len(small)+10, "short.png"); f.Code != protocol.CodeBadRequest {
			t.Fatalf("fewer bytes than declared: %+v", f)
		}
		if f := up(append(small, 1, 2, 3), len(small), "long.png"); f.Code != protocol.CodeBadRequest {
			t.Fatalf("more bytes than declared: %+v", f)
		}
		if f := a.answer(a.upload(map[string]any{"type": "image", "name": "x.png", "size": len(small)}, small)); f.Code != protocol.CodeBadRequest {
			t.Fatalf("no room: %+v", f)
		}
		if f := a.answer(a.upload(map[string]any{"type": "image", "room": "kitchen", "size": len(small)}, small)); f.Code != protocol.CodeNotMember {
			t.Fatalf("not a member: %+v", f)
		}
		a.ok(map[string]any{"type": "say", "room": "lobby", "text": "session goes on"})
	})
}

func TestPrivateImage(t *testing.T) {
	imageTransports(t, server.Config{}, func(t *testing.T, ts *testServer, dial func() *rawClient) {
		a, b, c := dial(), dial(), dial()
		a.hello("Alice")
		b.hello("Bob")
		c.hello("Carol")
		for _, cl := range []*rawClient{a, b, c} {
			cl.join("lobby")
		}
		body := pngOf(t, 3, 3)
		ok := a.answer(a.upload(map[string]any{"type": "image", "room": "lobby", "to": "Bob", "name": "p.png", "size": len(body), "nonce": "img-1"}, body))
		if ok.Type != "ok" || *ok.Seq != 1 {
			t.Fatalf("%+v", ok)
		}
		// Same nonce: same answer, not delivered again.
		again := a.answer(a.upload(map[string]any{"type": "image", "room": "lobby", "to": "Bob", "name": "p.png", "size": len(body), "nonce": "img-1"}, body))
		if again.Type != "ok" || *again.Seq != 1 || again.Image.Meta.ID != ok.Image.Meta.ID {
			t.Fatalf("repeat: %+v", again)
		}
		var ev *protocol.Frame
		for ev = b.event(); ev.Type != protocol.TypeMsg; ev = b.event() {
		}
		if ev.To != "Bob" || ev.Image.Meta == nil {
			t.Fatalf("%+v", ev)
		}
		b.quiet2(protocol.TypeJoined)
		if hdr, got := b.fetch(ok.Image.Meta.ID); !bytes.Equal(got, body) {
			t.Fatalf("recipient fetch: %+v", hdr)
		}
		if hdr, _ := c.fetch(ok.Image.Meta.ID); hdr.Code != protocol.CodeNotFound {
			t.Fatalf("third member fetched a private image: %+v", hdr)
		}
	})
}
