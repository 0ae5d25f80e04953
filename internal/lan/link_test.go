package lan

import (
	"errors"
	"strings"
	"testing"
)

const (
	testHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	testKey  = "3c1a5e0b9d2f4a7c6e8b0d1f2a3c4e5f60718293a4b5c6d7e8f9012345677b2a"
)

func TestParseLinkGood(t *testing.T) {
	cases := []struct {
		in   string
		want Link
	}{
		{"parley://example.org:4433?hash=" + testHash + "&room=lobby",
			Link{Host: "example.org", Port: 4433, Hash: testHash, Room: "lobby"}},
		{"parley://192.168.1.20:4433?hash=" + strings.ToUpper(testHash),
			Link{Host: "192.168.1.20", Port: 4433, Hash: testHash}},
		{"parley://example.org:4433?room=lobby&key=" + strings.ToUpper(testKey) + "&hash=" + testHash,
			Link{Host: "example.org", Port: 4433, Hash: testHash, Key: testKey, Room: "lobby"}},
		{"parley://example.org:4433?key=" + testKey, Link{Host: "example.org", Port: 4433, Key: testKey}},
		{"parley://[fe80::1%25eth0]:1?room=a", Link{Host: "fe80::1%eth0", Port: 1, Room: "a"}},
		{"parley://[2001:db8::1]:65535/", Link{Host: "2001:db8::1", Port: 65535}},
		{"parley://My-Host.local.:4433?room=caf%C3%A9+au+lait",
			Link{Host: "my-host.local.", Port: 4433, Room: "café au lait"}},
		{"parley://h_1:10?future=1&room=" + strings.Repeat("r", 64),
			Link{Host: "h_1", Port: 10, Room: strings.Repeat("r", 64)}},
		{"parley://" + strings.Repeat("a", 63) + ".b:5", Link{Host: strings.Repeat("a", 63) + ".b", Port: 5}},
	}
	for _, c := range cases {
		got, err := ParseLink(c.in)
		if err != nil {
			t.Errorf("ParseLink(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("ParseLink(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestParseLinkBad(t *testing.T) {
	bad := map[string]string{
		"empty":              "",
		"wrong scheme":       "https://example.org:4433?hash=" + testHash,
		"opaque":             "parley:example.org:4433",
		"no port":            "parley://example.org?hash=" + testHash,
		"empty port":         "parley://example.org:?hash=" + testHash,
		"port zero":          "parley://example.org:0",
		"port 65536":         "parley://example.org:65536",
		"port leading zero":  "parley://example.org:04433",
		"port sign":          "parley://example.org:+443",
		"no host":            "parley://:4433",
		"user info":          "parley://bob@example.org:4433",
		"path":               "parley://example.org:4433/lobby",
		"fragment":           "parley://example.org:4433#x",
		"empty fragment":     "parley://example.org:4433#",
		"short hash":         "parley://example.org:4433?hash=" + testHash[:63],
		"long hash":          "parley://example.org:4433?hash=" + testHash + "0",
		"non-hex hash":       "parley://example.org:4433?hash=" + testHash[:63] + "g",
		"two hashes":         "parley://example.org:4433?hash=" + testHash + "&hash=" + testHash,
		"short key":          "parley://example.org:4433?key=" + testKey[:63],
		"long key":           "parley://example.org:4433?key=" + testKey + "0",
		"non-hex key":        "parley://example.org:4433?key=" + testKey[:63] + "x",
		"empty key":          "parley://example.org:4433?key=",
		"two keys":           "parley://example.org:4433?key=" + testKey + "&key=" + testKey,
		"two rooms":          "parley://example.org:4433?room=a&room=b",
		"empty room":         "parley://example.org:4433?room=",
		"room 65 chars":      "parley://example.org:4433?room=" + strings.Repeat("r", 65),
		"room blank edge":    "parley://example.org:4433?room=+lobby",
		"room control char":  "parley://example.org:4433?room=a%07b",
		"room not utf8":      "parley://example.org:4433?room=%ff",
		"bad escape":         "parley://example.org:4433?room=%zz",
		"unbracketed ipv6":   "parley://2001:db8::1:4433",
		"bracketed ipv4":     "parley://[1.2.3.4]:4433",
		"zone not linklocal": "parley://[2001:db8::1%25eth0]:4433",
		"empty zone":         "parley://[fe80::1%25]:4433",
		"unicode host":       "parley://exämple.org:4433",
		"digits host":        "parley://1234:4433",
		"label dash":         "parley://-a.org:4433",
		"empty label":        "parley://a..org:4433",
		"long label":         "parley://" + strings.Repeat("a", 64) + ".org:4433",
		"long host":          "parley://" + strings.Repeat("abcdefghi.", 26) + "org:4433",
		"space around":       " parley://example.org:4433",
		"too long":           "parley://example.org:4433?x=" + strings.Repeat("a", MaxLinkLen),
	}
	for name, in := range bad {
		if l, err := ParseLink(in); err == nil {
			t.Errorf("%s: ParseLink(%q) = %+v, want an error", name, in, l)
		} else if !errors.Is(err, ErrBadLink) {
			t.Errorf("%s: error %v does not wrap ErrBadLink", name, err)
		}
	}
}

func TestLinkLengthLimit(t *testing.T) {
	base := "parley://example.org:4433?x="
	at := base + strings.Repeat("a", MaxLinkLen-len(base))
	if _, err := ParseLink(at); err != nil {
		t.Errorf("a link of exactly %d bytes: %v", MaxLinkLen, err)
	}
	if _, err := ParseLink(at + "a"); err == nil {
		t.Errorf("a link of %d bytes was accepted", MaxLinkLen+1)
	}
}

func TestFormatLinkRoundTrip(t *testing.T) {
	links := []Link{
		{Host: "example.org", Port: 4433, Hash: testHash, Room: "lobby"},
		{Host: "10.0.0.7", Port: 1, Room: "a&b=c d#e?f/g%h+i"},
		{Host: "2001:db8::1", Port: 65535, Hash: testHash},
		{Host: "example.org", Port: 4433, Hash: testHash, Key: testKey, Room: "lobby"},
		{Host: "fe80::1%eth0", Port: 4433, Room: "Ünïcødé 🎉"},
	}
	for _, l := range links {
		s, err := FormatLink(l)
		if err != nil {
			t.Fatalf("FormatLink(%+v): %v", l, err)
		}
		back, err := ParseLink(s)
		if err != nil {
			t.Fatalf("ParseLink(FormatLink(%+v) = %q): %v", l, s, err)
		}
		if back != l {
			t.Errorf("round trip of %+v via %q gave %+v", l, s, back)
		}
	}
	want := "parley://example.org:4433?hash=" + testHash + "&room=lobby"
	if s := (Link{Host: "example.org", Port: 4433, Hash: testHash, Room: "lobby"}).String(); s != want {
		t.Errorf("String() = %q, want %q", s, want)
	}
	want = "parley://example.org:4433?hash=" + testHash + "&key=" + testKey + "&room=lobby"
	if s := (Link{Host: "example.org", Port: 4433, Hash: testHash, Key: strings.ToUpper(testKey), Room: "lobby"}).String(); s != want {
		t.Errorf("String() with a key = %q, want %q", s, want)
	}
	if a := (Link{Host: "2001:db8::1", Port: 9}).ServerURL(); a != "https://[2001:db8::1]:9" {
		t.Errorf("ServerURL() = %q", a)
	}
}

func TestFormatLinkRejects(t *testing.T) {
	bad := []Link{
		{Host: "", Port: 4433},
		{Host: "example.org", Port: 0},
		{Host: "example.org", Port: 65536},
		{Host: "example.org", Port: 4433, Hash: "abc"},
		{Host: "example.org", Port: 4433, Key: testKey + "0"},
		{Host: "example.org", Port: 4433, Room: " lobby"},
		{Host: "bad host", Port: 4433},
	}
	for _, l := range bad {
		if s, err := FormatLink(l); err == nil {
			t.Errorf("FormatLink(%+v) = %q, want an error", l, s)
		}
	}
}

func FuzzParseLink(f *testing.F) {
	for _, s := range []string{
		"parley://example.org:4433?hash=" + testHash + "&room=lobby",
		"parley://example.org:4433?hash=" + testHash + "&key=" + testKey + "&room=lobby",
		"parley://[fe80::1%25eth0]:1?room=a",
		"parley://10.0.0.1:4433/",
		"parley://x:1?room=%F0%9F%8E%89",
		"parley://:0", "parley:", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLink(s)
		if err != nil {
			return
		}
		out, err := FormatLink(l)
		if err != nil {
			t.Fatalf("ParseLink(%q) = %+v, which FormatLink rejects: %v", s, l, err)
		}
		back, err := ParseLink(out)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", out, s, err)
		}
		if back != l {
			t.Fatalf("%q → %+v → %q → %+v", s, l, out, back)
		}
	})
}
