package lan

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"parley/internal/lan/lantest"
)

func discoverUntil(t *testing.T, want func([]Server) bool) []Server {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var got []Server
	for time.Now().Before(deadline) {
		var err error
		got, err = Discover(context.Background(), 500*time.Millisecond)
		if err != nil {
			t.Fatalf("Discover: %v", err)
		}
		if want(got) {
			return got
		}
	}
	t.Fatalf("Discover never found what was expected; last answer: %+v", got)
	return nil
}

func find(list []Server, hash string) (Server, bool) {
	for _, s := range list {
		if s.CertHash == hash {
			return s, true
		}
	}
	return Server{}, false
}

func TestAnnounceDiscover(t *testing.T) {
	if !lantest.InNetns(t) {
		return
	}
	hashA := strings.Repeat("ab", 32)
	hashB := strings.Repeat("cd", 32)
	lo := []net.IP{net.IPv4(127, 0, 0, 1)}
	ctx := context.Background()
	a, err := Announce(ctx, Info{Name: `Kitchen \ "table" ☕`, Port: 4433, CertHash: strings.ToUpper(hashA), Members: 3, IPs: lo})
	if err != nil {
		t.Fatalf("Announce A: %v", err)
	}
	defer a.Close()
	bctx, stopB := context.WithCancel(ctx)
	b, err := Announce(bctx, Info{Name: "Attic", Port: 5000, CertHash: hashB, IPs: lo})
	if err != nil {
		t.Fatalf("Announce B: %v", err)
	}
	defer b.Close()

	got := discoverUntil(t, func(l []Server) bool {
		_, okA := find(l, hashA)
		_, okB := find(l, hashB)
		return okA && okB
	})
	sa, _ := find(got, hashA)
	want := Server{Instance: "parley-" + hashA[:16], Name: `Kitchen \ "table" ☕`, Host: sa.Host,
		IP: sa.IP, Port: 4433, CertHash: hashA, Version: 1, Members: 3}
	if fmt.Sprint(sa) != fmt.Sprint(want) || !sa.IP.Equal(lo[0]) || !strings.HasSuffix(sa.Host, ".local.") {
		t.Errorf("server A discovered as %+v, want %+v at 127.0.0.1", sa, want)
	}
	if got[0].Name != "Attic" {
		t.Errorf("servers not sorted by name: %+v", got)
	}
	if l := sa.Link("lobby"); l.String() != "parley://127.0.0.1:4433?hash="+hashA+"&room=lobby" {
		t.Errorf("join link of a discovered server: %s", l)
	}

	// The member count is updatable.
	if err := a.Update(Info{Name: `Kitchen \ "table" ☕`, Port: 4433, CertHash: hashA, Members: 7, IPs: lo}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	discoverUntil(t, func(l []Server) bool { s, ok := find(l, hashA); return ok && s.Members == 7 })

	// Ending the context stops B's announcement; Close stops A's.
	stopB()
	discoverUntil(t, func(l []Server) bool { _, ok := find(l, hashB); return !ok })
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := a.Update(Info{Name: "x", Port: 1, CertHash: hashA}); err == nil {
		t.Error("Update after Close succeeded")
	}
	discoverUntil(t, func(l []Server) bool { return len(l) == 0 })
}

func TestAnnounceRejectsBadInfo(t *testing.T) {
	ok := Info{Name: "n", Port: 1, CertHash: testHash, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}
	bad := []func(*Info){
		func(i *Info) { i.Name = " " },
		func(i *Info) { i.Port = 0 },
		func(i *Info) { i.Port = 65536 },
		func(i *Info) { i.CertHash = "12" },
		func(i *Info) { i.Members = -1 },
	}
	for n, mutate := range bad {
		info := ok
		mutate(&info)
		if _, err := service(info); err == nil {
			t.Errorf("case %d: service(%+v) accepted", n, info)
		}
	}
	if _, err := service(ok); err != nil {
		t.Fatalf("service(%+v): %v", ok, err)
	}
	long := ok
	long.Name = strings.Repeat("é", MaxNameBytes) // 2 bytes each
	svc, err := service(long)
	if err != nil {
		t.Fatal(err)
	}
	for _, txt := range svc.TXT {
		if strings.HasPrefix(txt, "name=") && len(txt) != len("name=")+MaxNameBytes {
			t.Errorf("long name not cut to %d bytes: %d", MaxNameBytes, len(txt)-5)
		}
	}
}

func TestTXTEscaping(t *testing.T) {
	for _, s := range []string{"plain", `back\slash`, `"quoted"`, "ünï ☕", "\x01ctl", `\065`} {
		// What miekg/dns does: pack the escaped string, then present the
		// received bytes with its own escapes.
		packed := s // escapeTXT(s) packs back to s
		var presented strings.Builder
		for i := 0; i < len(packed); i++ {
			c := packed[i]
			switch {
			case c == '"' || c == '\\':
				presented.WriteString(`\` + string(c))
			case c < ' ' || c > '~':
				fmt.Fprintf(&presented, "\\%03d", c)
			default:
				presented.WriteByte(c)
			}
		}
		if got := unescapeTXT(presented.String()); got != s {
			t.Errorf("unescapeTXT(%q) = %q, want %q", presented.String(), got, s)
		}
		if strings.Count(escapeTXT(s), `\`) != 2*strings.Count(s, `\`) {
			t.Errorf("escapeTXT(%q) = %q", s, escapeTXT(s))
		}
	}
}

func TestAddressesSkipLoopback(t *testing.T) {
	ips, err := Addresses()
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range ips {
		if ip.IsLoopback() || ip.IsUnspecified() {
			t.Errorf("Addresses() returned %v", ip)
		}
	}
}
