package app

import (
	"context"
	"io/fs"
	"log/slog"
	"path/filepath"
	"testing"

	"parley/bridge"
	"parley/internal/lan"
)

// The desktop keeps its history cache next to its settings (in tests) with
// private files, and a second run shows the room's past from it.
func TestHistoryCacheIsPrivateAndShownAgain(t *testing.T) {
	a, sh, dir := newApp(t)
	if _, err := a.SaveSettings(Settings{Name: "Host"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.StartHosting(HostRequest{Room: "lobby"}); err != nil {
		t.Fatal(err)
	}
	m, err := a.Send(bridge.SendRequest{Conv: "r:lobby", Text: "kept for later"})
	if err != nil {
		t.Fatal(err)
	}
	sh.waitFor(t, "ack", func(ev bridge.Event) bool { return ev.Kind == bridge.EvAck && ev.Local == m.Local })
	Close(a)
	files := 0
	err = filepath.WalkDir(filepath.Join(dir, "cache"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files++
			if mode(t, p) != 0o600 {
				t.Errorf("%s has mode %v", p, mode(t, p))
			}
		} else if mode(t, p) != 0o700 {
			t.Errorf("directory %s has mode %v", p, mode(t, p))
		}
		return nil
	})
	if err != nil || files == 0 {
		t.Fatalf("%d cache files: %v", files, err)
	}

	// The next run (same config dir) hosts again: the past shows at once,
	// from the cache (the hosted server keeps its history too: see
	// TestHostingKeepsHistoryEpochAndCertificate).
	b, sh2 := reopen(t, dir)
	if _, err := b.StartHosting(HostRequest{Room: "lobby"}); err != nil {
		t.Fatal(err)
	}
	sh2.waitFor(t, "cached message", func(ev bridge.Event) bool {
		return ev.Kind == bridge.EvMessage && ev.Message.Text == "kept for later"
	})
}

// reopen starts an App on the config directory dir, the same one as an
// earlier App's when reopening (newApp starts the first on a new one).
func reopen(t *testing.T, dir string) (*App, *fakeShell) {
	t.Helper()
	sh := newFakeShell()
	a, err := New(Config{ConfigDir: dir, Shell: sh, HostAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler),
		Discover: func(context.Context) ([]lan.Server, error) { return nil, nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Close(a) })
	return a, sh
}
