package app

import (
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"parley/bridge"
	"parley/client"
	"parley/internal/certs"
)

// Host on LAN keeps its history, epochs and certificate: host, say
// something, stop, host again (in a new run of the app) — the message is
// there with its seq, the room's epoch is the same for a member joining
// over QUIC, which pins the first run's certificate hash, and the host's
// own view shows no "history lost".
func TestHostingKeepsHistoryEpochAndCertificate(t *testing.T) {
	a, sh, dir := newApp(t)
	if _, err := a.SaveSettings(Settings{Name: "Host"}); err != nil {
		t.Fatal(err)
	}
	first, err := a.StartHosting(HostRequest{Room: "lobby"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := a.Send(bridge.SendRequest{Conv: "r:lobby", Text: "said before the restart"})
	if err != nil {
		t.Fatal(err)
	}
	ack := sh.waitFor(t, "ack", func(ev bridge.Event) bool { return ev.Kind == bridge.EvAck && ev.Local == m.Local })
	ctx := t.Context()
	member, err := client.Dial(ctx, client.Config{Server: "127.0.0.1:" + itoa(first.Port), CertHash: first.CertHash, Name: "Member"})
	if err != nil {
		t.Fatal(err)
	}
	j1, err := member.Join(ctx, "lobby")
	member.Close()
	if err != nil || j1.Epoch == "" || j1.Seq != ack.Seq {
		t.Fatalf("first join: %+v %v (ack seq %d)", j1, err, ack.Seq)
	}
	if _, err := a.StopHosting(); err != nil {
		t.Fatal(err)
	}
	Close(a)

	host := filepath.Join(dir, hostDirName)
	if m := mode(t, host); m != 0o700 {
		t.Errorf("host dir mode %o", m)
	}
	for _, f := range []string{certs.CertFile, certs.KeyFile, hostResetFile} {
		if m := mode(t, filepath.Join(host, f)); m != 0o600 {
			t.Errorf("%s mode %o", f, m)
		}
	}

	b, sh2 := reopen(t, dir)
	second, err := b.StartHosting(HostRequest{Room: "lobby"})
	if err != nil {
		t.Fatal(err)
	}
	if second.CertHash != first.CertHash {
		t.Fatalf("certificate hash changed across a restart: %s then %s", first.CertHash, second.CertHash)
	}
	member, err = client.Dial(ctx, client.Config{Server: "127.0.0.1:" + itoa(second.Port), CertHash: first.CertHash, Name: "Member"})
	if err != nil {
		t.Fatalf("the first run's pin no longer works: %v", err)
	}
	defer member.Close()
	j2, err := member.Join(ctx, "lobby")
	if err != nil {
		t.Fatal(err)
	}
	if j2.Epoch != j1.Epoch || j2.Seq != j1.Seq {
		t.Fatalf("epoch/seq %s/%d became %s/%d", j1.Epoch, j1.Seq, j2.Epoch, j2.Seq)
	}
	found := false
	for _, h := range j2.History {
		found = found || (h.Seq == ack.Seq && h.Text == "said before the restart")
	}
	if !found {
		t.Fatalf("history after the restart: %+v", j2.History)
	}
	// Everything the host's view got before this ack was delivered first.
	m2, err := b.Send(bridge.SendRequest{Conv: "r:lobby", Text: "after"})
	if err != nil {
		t.Fatal(err)
	}
	ack2 := sh2.waitFor(t, "ack", func(ev bridge.Event) bool { return ev.Kind == bridge.EvAck && ev.Local == m2.Local })
	if ack2.Seq != ack.Seq+1 {
		t.Fatalf("seq after the restart %d, want %d", ack2.Seq, ack.Seq+1)
	}
	sh2.mu.Lock()
	defer sh2.mu.Unlock()
	shown := false
	for _, ev := range sh2.events {
		if ev.Kind == bridge.EvReset || (ev.Kind == bridge.EvMessage && ev.Message.Kind == bridge.MsgNotice) {
			t.Fatalf("the host's view was reset: %+v", ev)
		}
		shown = shown || (ev.Kind == bridge.EvMessage && ev.Message.Seq == ack.Seq && ev.Message.Text == "said before the restart")
	}
	if !shown {
		t.Fatal("the host's view did not show the kept message")
	}
}

// The kept certificate is served until it comes within RenewBefore of its
// expiry; then a new one is made and kept (certs.Persistent, tested in
// internal/certs). A damaged key, which a desktop user cannot repair, is
// replaced rather than refused.
func TestHostCertificateKeptAndRenewed(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	log := slog.New(slog.DiscardHandler)
	load := func() *certs.Provider {
		t.Helper()
		p, err := hostCertificate(dir, []string{"host.lan"}, clock, log)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	h1 := load()
	first := h1.Hash()
	if h2 := load(); h2.Hash() != first {
		t.Fatal("reloaded certificate differs")
	}
	// One second before the renewal point: still the same.
	advance(h1.NotAfter().Add(-certs.RenewBefore).Sub(clock()) - time.Second)
	if h1.Hash() != first || load().Hash() != first {
		t.Fatal("renewed too early")
	}
	// At the renewal point: a new certificate, kept for the next run.
	advance(time.Second)
	renewed := h1.Hash()
	if renewed == first {
		t.Fatal("not renewed within RenewBefore of its expiry")
	}
	if load().Hash() != renewed {
		t.Fatal("the renewed certificate was not kept")
	}
	// A damaged key: a new certificate, kept.
	if err := os.WriteFile(filepath.Join(dir, certs.KeyFile), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	h5 := load()
	if h5.Hash() == renewed {
		t.Fatal("a damaged key was not replaced")
	}
	if load().Hash() != h5.Hash() {
		t.Fatal("the replacement was not kept")
	}
}
