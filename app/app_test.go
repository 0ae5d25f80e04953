package app

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/bridge"
	"parley/client"
	"parley/internal/lan"
	"parley/protocol"
)

// fakeShell records what the App asks of the window.
type fakeShell struct {
	mu      sync.Mutex
	open    string
	save    string
	titles  []string
	events  []bridge.Event
	host    []HostInfo
	changed chan struct{}
}

func newFakeShell() *fakeShell { return &fakeShell{changed: make(chan struct{}, 1)} }

func (f *fakeShell) OpenImageDialog() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.open, nil
}
func (f *fakeShell) SaveFileDialog(string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.save, nil
}
func (f *fakeShell) SetTitle(t string) { f.mu.Lock(); f.titles = append(f.titles, t); f.mu.Unlock() }
func (f *fakeShell) Emit(name string, data any) {
	f.mu.Lock()
	switch name {
	case bridge.EventName:
		f.events = append(f.events, data.([]bridge.Event)...)
	case HostEvent:
		f.host = append(f.host, data.(HostInfo))
	}
	f.mu.Unlock()
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

func (f *fakeShell) waitFor(t *testing.T, what string, pred func(bridge.Event) bool) bridge.Event {
	t.Helper()
	deadline := time.After(15 * time.Second)
	seen := 0
	for {
		f.mu.Lock()
		for ; seen < len(f.events); seen++ {
			if pred(f.events[seen]) {
				ev := f.events[seen]
				f.mu.Unlock()
				return ev
			}
		}
		f.mu.Unlock()
		select {
		case <-f.changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// newApp starts an App on a new config directory and returns it, its
// shell and the directory.
func newApp(t *testing.T) (*App, *fakeShell, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "parley")
	a, sh := reopen(t, dir)
	return a, sh, dir
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestSettingsAndIdentityArePrivateAndKept(t *testing.T) {
	a, _, dir := newApp(t)
	if m := mode(t, dir); m != 0o700 {
		t.Fatalf("config dir mode %o", m)
	}
	if m := mode(t, filepath.Join(dir, identityFile)); m != 0o600 {
		t.Fatalf("identity key mode %o", m)
	}
	if s, _ := a.Settings(); s.Name != "" {
		t.Fatalf("first start has a name: %+v", s)
	}
	key := strings.Repeat("ab", 32)
	if _, err := a.SaveSettings(Settings{Name: " Zoë ", Room: "lobby", Server: "h:1", KeyHash: strings.ToUpper(key), ServerName: " " + strings.Repeat("n", maxServerName) + " "}); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, filepath.Join(dir, settingsFile)); m != 0o600 {
		t.Fatalf("settings mode %o", m)
	}
	for _, bad := range []Settings{{Name: strings.Repeat("x", protocol.MaxNameLen+1)}, {Name: "a\u200bb"}, {Room: strings.Repeat("r", protocol.MaxRoomLen+1)}, {KeyHash: "abc"}, {KeyHash: key + "ab"}, {KeyHash: strings.Repeat("zz", 32)}, {ServerName: strings.Repeat("n", maxServerName+1)}} {
		if _, err := a.SaveSettings(bad); err == nil {
			t.Errorf("SaveSettings(%+v) accepted", bad)
		}
	}
	b, err := New(Config{ConfigDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer Close(b)
	if s, _ := b.Settings(); s.Name != "Zoë" || s.Room != "lobby" || s.KeyHash != key || s.ServerName != strings.Repeat("n", maxServerName) {
		t.Fatalf("reloaded settings %+v", s)
	}
	if !a.key.Equal(b.key) {
		t.Fatal("the identity key changed between runs")
	}
	// A damaged key file is reported, not replaced.
	os.WriteFile(filepath.Join(dir, identityFile), []byte("garbage"), 0o600)
	if _, err := New(Config{ConfigDir: dir}); err == nil {
		t.Fatal("a damaged identity key was accepted")
	}
}

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(i)
	}
	img.Set(0, 0, color.White)
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return buf.Bytes()
}

func TestHostOnLANJoinChatImagesAndStop(t *testing.T) {
	a, sh, _ := newApp(t)
	if _, err := a.SaveSettings(Settings{Name: "Host"}); err != nil {
		t.Fatal(err)
	}
	info, err := a.StartHosting(HostRequest{Room: "lobby"})
	if err != nil {
		t.Fatal(err)
	}
	if !info.Hosting || info.Port == 0 || len(info.CertHash) != 64 || !strings.HasPrefix(info.QR, "data:image/png;base64,") {
		t.Fatalf("host info %+v", info)
	}
	l, err := lan.ParseLink(info.Link)
	if err != nil || l.Port != info.Port || l.Hash != info.CertHash || len(l.Key) != 64 || l.Room != "lobby" {
		t.Fatalf("join link %q: %+v %v", info.Link, l, err)
	}
	st, _ := a.Status()
	if st.State != bridge.StateConnected || st.Transport != "inprocess" || st.Name != "Host" {
		t.Fatalf("host's own UI: %+v", st)
	}
	if again, _ := a.StartHosting(HostRequest{}); again.Port != info.Port {
		t.Fatal("a second StartHosting started another server")
	}

	// A LAN member joins over QUIC with the link's hash.
	ctx := t.Context()
	guest, err := client.Dial(ctx, client.Config{Server: "127.0.0.1:" + itoa(info.Port), CertHash: info.CertHash, Name: "Guest"})
	if err != nil {
		t.Fatal(err)
	}
	defer guest.Close()
	if _, err := guest.Join(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	sh.waitFor(t, "guest joined", func(ev bridge.Event) bool {
		return ev.Kind == bridge.EvMessage && ev.Message.Kind == bridge.MsgJoined && ev.Message.From == "Guest"
	})
	a.SetActive("r:lobby", false)
	guest.Say(ctx, "lobby", "hello host")
	sh.waitFor(t, "guest message", func(ev bridge.Event) bool {
		return ev.Kind == bridge.EvMessage && ev.Message.Text == "hello host"
	})
	sh.waitFor(t, "unread", func(ev bridge.Event) bool {
		return ev.Kind == bridge.EvConversation && ev.Conv == "r:lobby" && ev.Conversation.Unread == 1
	})
	sh.mu.Lock()
	titles := strings.Join(sh.titles, "|")
	sh.mu.Unlock()
	if !strings.Contains(titles, "(1) Parley") {
		t.Fatalf("window titles %q", titles)
	}

	// Native dialog → image; drop → image; Save writes the bytes.
	dir := t.TempDir()
	pic := filepath.Join(dir, "pic.png")
	os.WriteFile(pic, pngBytes(t, 9, 9), 0o600)
	sh.mu.Lock()
	sh.open = pic
	sh.mu.Unlock()
	m, err := a.PickImage("r:lobby")
	if err != nil || !m.Pending || m.Image == nil || m.Image.Name != "pic.png" {
		t.Fatalf("PickImage: %+v %v", m, err)
	}
	sh.waitFor(t, "picked image ack", func(ev bridge.Event) bool { return ev.Kind == bridge.EvAck && ev.Local == m.Local })
	got := waitGuest(t, guest, func(e client.Event) bool { return e.Kind == client.EventMessage && e.Message.Image != nil })
	mime, data, err := guest.Fetch(ctx, got.Message.Image.ID)
	if err != nil || mime != "image/png" || !bytes.Equal(data, pngBytes(t, 9, 9)) {
		t.Fatalf("guest fetched %s %d bytes: %v", mime, len(data), err)
	}
	sh.mu.Lock()
	sh.open = ""
	sh.mu.Unlock()
	if m, err := a.PickImage("r:lobby"); err != nil || m.Local != "" {
		t.Fatalf("cancelled dialog: %+v %v", m, err)
	}
	a.SetActive("r:lobby", true)
	notImage := filepath.Join(dir, "notes.txt")
	os.WriteFile(notImage, []byte("just text"), 0o600)
	DropFiles(a, []string{notImage})
	sh.waitFor(t, "drop refused", func(ev bridge.Event) bool {
		return ev.Kind == bridge.EvNotice && strings.Contains(ev.Text, "notes.txt") && strings.Contains(ev.Text, "not a PNG")
	})
	DropFiles(a, []string{pic})
	sh.waitFor(t, "dropped image sent", func(ev bridge.Event) bool {
		return ev.Kind == bridge.EvMessage && ev.Message.Image != nil && ev.Message.Image.ID != "" && ev.Message.Mine
	})
	saved := filepath.Join(dir, "saved.png")
	sh.mu.Lock()
	sh.save = saved
	sh.mu.Unlock()
	path, err := a.SaveImage(got.Message.Image.ID, "../../evil.png")
	if err != nil || path != saved {
		t.Fatalf("SaveImage: %q %v", path, err)
	}
	if b, _ := os.ReadFile(saved); !bytes.Equal(b, pngBytes(t, 9, 9)) {
		t.Fatal("saved bytes differ")
	}

	// Stop: the guest's session is closed with 4002, so it reconnects.
	if _, err := a.StopHosting(); err != nil {
		t.Fatal(err)
	}
	waitGuest(t, guest, func(e client.Event) bool { return e.Kind == client.EventState && e.State == client.StateReconnecting })
	if h, _ := a.HostStatus(); h.Hosting {
		t.Fatal("still hosting")
	}
	sh.mu.Lock()
	last := sh.host[len(sh.host)-1]
	sh.mu.Unlock()
	if last.Hosting {
		t.Fatal("the UI was not told that hosting stopped")
	}
	if st, _ := a.Status(); st.State == bridge.StateConnected {
		t.Fatalf("still connected after stopping: %+v", st)
	}
}

func waitGuest(t *testing.T, c *client.Client, pred func(client.Event) bool) client.Event {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatal("guest events closed")
			}
			if pred(ev) {
				return ev
			}
		case <-deadline:
			t.Fatal("timed out waiting for the guest")
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestTestHooksOffByDefault(t *testing.T) {
	a, _, _ := newApp(t)
	if on, _ := a.TestMode(); on {
		t.Fatal("test mode on without PARLEY_TEST_REPORT")
	}
	if _, err := a.TestReport(json.RawMessage(`{}`)); err == nil {
		t.Fatal("TestReport works with the hooks off")
	}
	if _, err := a.TestDropImage(); err == nil {
		t.Fatal("TestDropImage works with the hooks off")
	}
}
