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
	for _, f := range []string{hostCertFile, hostKeyFile, hostResetFile} {
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
// expiry; then a new one is made and kept. A damaged file is replaced.
func TestHostCertificateKeptAndRenewed(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	log := slog.New(slog.DiscardHandler)
	hashOf := func(h *hostCert) string {
		t.Helper()
		c, err := h.GetCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		return certs.HashOf(c.Certificate[0])
	}

	h1, err := loadHostCert(dir, []string{"host.lan"}, clock, log)
	if err != nil {
		t.Fatal(err)
	}
	first := hashOf(h1)
	h2, err := loadHostCert(dir, nil, clock, log)
	if err != nil || hashOf(h2) != first {
		t.Fatalf("reloaded certificate differs: %v", err)
	}
	// One second before the renewal point: still the same.
	advance(certs.Validity - certs.RenewBefore - time.Hour - time.Second)
	if hashOf(h2) != first {
		t.Fatal("renewed too early")
	}
	h3, _ := loadHostCert(dir, nil, clock, log)
	if hashOf(h3) != first {
		t.Fatal("reloaded and renewed too early")
	}
	// At the renewal point: a new certificate, kept for the next run.
	advance(time.Second)
	renewed := hashOf(h2)
	if renewed == first {
		t.Fatal("not renewed within RenewBefore of its expiry")
	}
	h4, _ := loadHostCert(dir, nil, clock, log)
	if hashOf(h4) != renewed {
		t.Fatal("the renewed certificate was not kept")
	}
	// A damaged key: a new certificate.
	os.WriteFile(filepath.Join(dir, hostKeyFile), []byte("not a key"), 0o600)
	h5, err := loadHostCert(dir, nil, clock, log)
	if err != nil || hashOf(h5) == renewed {
		t.Fatalf("a damaged key was not replaced: %v", err)
	}
	// A file past the size bound is not read.
	os.WriteFile(filepath.Join(dir, hostCertFile), make([]byte, maxHostPEM+1), 0o600)
	if _, err := readLimited(filepath.Join(dir, hostCertFile), maxHostPEM); err == nil {
		t.Fatal("an oversized certificate file was read")
	}
	os.WriteFile(filepath.Join(dir, hostCertFile), make([]byte, maxHostPEM), 0o600)
	if _, err := readLimited(filepath.Join(dir, hostCertFile), maxHostPEM); err != nil {
		t.Fatalf("a certificate file at the bound: %v", err)
	}
}
