package protocol

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecodeRequests(t *testing.T) {
	for _, tc := range []struct {
		in   string
		typ  string
		id   int64
		code Code
		nilF bool
	}{
		{in: `{"type":"hello","id":1,"v":1,"name":"Alice"}`, typ: "hello", id: 1},
		{in: `{"type":"say","id":9007199254740991,"text":"x"}`, typ: "say", id: MaxID},
		{in: `{"type":"say","id":9007199254740992}`, typ: "say", id: -1},
		{in: `{"type":"say","id":0}`, typ: "say", id: -1},
		{in: `{"type":"say","id":"7"}`, typ: "say", id: -1},
		{in: `{"type":"say","id":2.0}`, typ: "say", id: 2},
		{in: `{"type":"rooms"}`, typ: "rooms", id: 0},
		{in: `{"type":"say","id":3,"text":5}`, typ: "say", id: 3, code: CodeBadRequest},
		{in: `{"type":"say","id":4,"text":`, code: CodeBadRequest, nilF: true, id: 4},
		{in: `[1,2]`, code: CodeBadRequest, nilF: true},
		{in: `null`, code: CodeBadRequest, nilF: true},
		{in: `{"id":5}`, code: CodeBadRequest, nilF: true, id: 5},
		{in: `{"type":5,"id":6}`, code: CodeBadRequest, nilF: true, id: 6},
	} {
		f, err := Decode([]byte(tc.in))
		if CodeOf(err) != tc.code {
			t.Errorf("%s: err %v, want code %q", tc.in, err, tc.code)
		}
		if tc.nilF {
			if f != nil {
				t.Errorf("%s: frame %+v, want nil", tc.in, f)
			}
			var pe *Error
			if errors.As(err, &pe) && pe.ID != tc.id {
				t.Errorf("%s: error id %d, want %d", tc.in, pe.ID, tc.id)
			}
			continue
		}
		if f == nil || f.Type != tc.typ || f.ID != tc.id {
			t.Errorf("%s: got %+v, want type %s id %d", tc.in, f, tc.typ, tc.id)
		}
	}
}

func TestDecodeFrameLimit(t *testing.T) {
	pad := func(n int) []byte {
		head := `{"type":"say","id":1,"p":"`
		return []byte(head + strings.Repeat("x", n-len(head)-2) + `"}`)
	}
	if _, err := Decode(pad(MaxFrameJSON)); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	_, err := Decode(pad(MaxFrameJSON + 1))
	var pe *Error
	if !errors.As(err, &pe) || pe.Code != CodeTooLarge || pe.ID != 1 {
		t.Fatalf("over the limit: %v", err)
	}
}

func TestEncodeLimitAndRoundTrip(t *testing.T) {
	f := &Frame{Type: TypeMsg, Room: "lobby", Seq: Int64(0), From: "Ann", Text: "a\nb <&>", Image: ImageField{Meta: &ImageMeta{ID: "ab", Mime: "image/png", W: 1, H: 2, Size: 3}}}
	b, err := Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(b, []byte("\n")) != 1 || b[len(b)-1] != '\n' || !bytes.Contains(b, []byte("<&>")) || !bytes.Contains(b, []byte(`"seq":0`)) {
		t.Fatalf("encoded %q", b)
	}
	g, err := Decode(b[:len(b)-1])
	if err != nil || g.Text != f.Text || *g.Image.Meta != *f.Image.Meta || *g.Seq != 0 {
		t.Fatalf("round trip %+v %v", g, err)
	}
	if b, _ := Encode(&Frame{Type: TypeOK, ID: 1}); bytes.Contains(b, []byte("image")) {
		t.Fatalf("absent image encoded: %s", b)
	}
	big := &Frame{Type: TypeOK, ID: 3, Text: strings.Repeat("x", MaxFrameJSON)}
	if _, err := Encode(big); CodeOf(err) != CodeTooLarge {
		t.Fatalf("oversized encode: %v", err)
	}
}

func TestReader(t *testing.T) {
	in := "{\"a\":1}\n{\"b\":2}\r\n" + strings.Repeat("x", MaxFrameJSON) + "\n" + strings.Repeat("y", MaxFrameJSON+1) + "\nlast"
	r := NewReader(strings.NewReader(in))
	for _, want := range []string{`{"a":1}`, `{"b":2}`, strings.Repeat("x", MaxFrameJSON)} {
		b, err := r.Next()
		if err != nil || string(b) != want {
			t.Fatalf("got %.20q %v, want %.20q", b, err, want)
		}
	}
	b, err := r.Next()
	if !errors.Is(err, ErrFrameTooLarge) || len(b) > MaxFrame {
		t.Fatalf("oversized line: %d bytes, %v", len(b), err)
	}
	r = NewReader(strings.NewReader("last"))
	if _, err := r.Next(); err != io.ErrUnexpectedEOF {
		t.Fatalf("unterminated: %v", err)
	}
	r = NewReader(strings.NewReader(""))
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("empty: %v", err)
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"Alice", true}, {strings.Repeat("é", 32), true}, {strings.Repeat("é", 33), false},
		{"e\u0301", true}, {"", false}, {" a", false}, {"a\u00a0", false}, {"a\tb", false},
		{"a\u200bb", false}, {"\xff", false},
	} {
		_, err := CleanName(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("CleanName(%q): %v", tc.in, err)
		}
		if err != nil && CodeOf(err) != CodeBadName {
			t.Errorf("CleanName(%q) code %q", tc.in, CodeOf(err))
		}
	}
	if _, err := CleanRoom(strings.Repeat("r", 64)); err != nil {
		t.Error(err)
	}
	if _, err := CleanRoom(strings.Repeat("r", 65)); CodeOf(err) != CodeBadRoom {
		t.Error(err)
	}
	if Fold("STRASSE") != Fold("straße") || Fold("Alice") != Fold("aLICE") {
		t.Error("Fold is not full case folding")
	}
}

func TestTextAndNonce(t *testing.T) {
	if err := CheckText(strings.Repeat("ü", 4000), 4000); err != nil {
		t.Error(err)
	}
	if err := CheckText(strings.Repeat("ü", 4001), 4000); CodeOf(err) != CodeTooLarge {
		t.Error(err)
	}
	if err := CheckText(" \u3000\n", 4000); CodeOf(err) != CodeBadRequest {
		t.Error(err)
	}
	if err := CheckNonce(strings.Repeat("n", 64)); err != nil {
		t.Error(err)
	}
	if err := CheckNonce(strings.Repeat("n", 65)); CodeOf(err) != CodeBadRequest {
		t.Error(err)
	}
	if err := CheckImageName(strings.Repeat("n", 255)); err != nil {
		t.Error(err)
	}
	if err := CheckImageName(strings.Repeat("n", 256)); CodeOf(err) != CodeBadRequest {
		t.Error(err)
	}
}

// FuzzDecode: Decode never panics; a decoded frame encodes and decodes again.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"hello","id":1,"v":1,"name":"Alice","key":"AAAA"}`,
		`{"type":"say","id":2,"room":"lobby","to":"Bob","text":"hi","nonce":"n1"}`,
		`{"type":"join","id":3,"room":"lobby","since":41,"limit":100}`,
		`{"type":"history","id":4,"with":"Bob","before":42}`,
		`{"type":"fetch","id":5,"image":"abc"}`,
		`{"type":"msg","room":"r","seq":1,"image":{"id":"x","mime":"image/png","w":1,"h":1,"size":1,"name":"n"}}`,
		`{"type":"ok","id":6,"history":[{"type":"msg","seq":1}],"members":["a"],"rooms":[{"room":"r","members":1}]}`,
		`{"type":"say","id":1e300}`, `{"type":"say","id":-1}`, `{"id":7`, `[]`, `"x"`, `{"type":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := Decode(b)
		if fr == nil {
			if err == nil {
				t.Fatal("nil frame without error")
			}
			return
		}
		if err != nil {
			return
		}
		out, err := Encode(fr)
		if err != nil {
			if CodeOf(err) == CodeTooLarge {
				return
			}
			t.Fatalf("encode of a decoded frame: %v", err)
		}
		g, err := Decode(out[:len(out)-1])
		if err != nil || g.Type != fr.Type {
			t.Fatalf("round trip: %v %+v", err, g)
		}
	})
}

// FuzzReader: Next never panics, never returns more than MaxFrame bytes,
// and returns lines without their line feed.
func FuzzReader(f *testing.F) {
	f.Add([]byte("{\"type\":\"hello\"}\n{\"type\":\"say\"}\n"))
	f.Add([]byte("no newline"))
	f.Add([]byte("\r\n\n\n"))
	f.Add(bytes.Repeat([]byte("x"), 70000))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(bytes.NewReader(b))
		for range 1000 {
			line, err := r.Next()
			if len(line) > MaxFrame {
				t.Fatalf("line of %d bytes", len(line))
			}
			if err != nil {
				return
			}
			if bytes.IndexByte(line, '\n') >= 0 {
				t.Fatal("line feed inside a line")
			}
		}
	})
}

// FuzzSniffImage: SniffImage never panics and never accepts more than MaxPixels.
func FuzzSniffImage(f *testing.F) {
	f.Add([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"))
	f.Add([]byte("GIF89a\x01\x00\x01\x00\x80\x00\x00"))
	f.Add([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"))
	f.Add([]byte("RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"))
	f.Add([]byte("meow, I am a text file"))
	f.Fuzz(func(t *testing.T, b []byte) {
		mime, w, h, err := SniffImage(b)
		if err != nil {
			if c := CodeOf(err); c != CodeBadImage && c != CodeTooLarge {
				t.Fatalf("code %q", c)
			}
			return
		}
		if mime == "" || w <= 0 || h <= 0 || int64(w)*int64(h) > MaxPixels {
			t.Fatalf("accepted %s %d×%d", mime, w, h)
		}
		if !utf8.ValidString(mime) {
			t.Fatal("bad mime")
		}
	})
}
