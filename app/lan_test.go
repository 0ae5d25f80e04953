package app

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"parley/client"
	"parley/internal/lan"
	"parley/internal/lan/lantest"
)

// Host on LAN announces its member count and keeps it current: a member
// joining over QUIC raises the count lan.Discover sees, leaving lowers it.
// Run in a network namespace whose loopback carries multicast.
func TestHostAnnouncesMemberCount(t *testing.T) {
	if !lantest.InNetns(t) {
		return
	}
	a, err := New(Config{ConfigDir: filepath.Join(t.TempDir(), "parley"), HostAddr: "127.0.0.1:0",
		Logger: slog.New(slog.DiscardHandler), AnnounceEvery: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer Close(a)
	info, err := a.StartHosting(HostRequest{Name: "Host", Room: "lobby"})
	if err != nil {
		t.Fatal(err)
	}
	if !info.Announced {
		t.Fatal("the namespace has multicast, but the announcement failed")
	}
	members := func(want int) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		last := -1
		for time.Now().Before(deadline) {
			list, err := lan.Discover(context.Background(), 300*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range list {
				if s.CertHash == info.CertHash {
					last = s.Members
				}
			}
			if last == want {
				return
			}
		}
		t.Fatalf("the announcement says %d members, want %d", last, want)
	}
	members(1) // the host's own in-process session
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	guest, err := client.Dial(ctx, client.Config{Server: "127.0.0.1:" + itoa(info.Port), CertHash: info.CertHash, Name: "Guest"})
	if err != nil {
		t.Fatal(err)
	}
	members(2)
	guest.Close()
	members(1)
}
