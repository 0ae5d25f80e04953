//go:build desktopsmoke

package app

// The desktop smoke test: it builds the REAL desktop binary
// (-tags desktop,production,webkit2_41), runs it under Xvfb with the test
// hooks on (PARLEY_TEST_REPORT), and lets the UI host a LAN room through
// its own buttons (frontend/src/testmode.js); a Go client joins, and a
// room message, a private message and an image travel both ways. The UI
// reports what its DOM shows; screenshots go to $PARLEY_SCREENSHOTS (make screenshots: docs/screenshots/).
//
//	go test -tags desktopsmoke -run TestDesktopSmoke -v ./app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"parley/client"
	"parley/internal/certs/certtest"
	"parley/server"
)

type smokeReport struct {
	Host *HostInfo `json:"host"`
	UI   *struct {
		Step            string              `json:"step"`
		Screen          string              `json:"screen"`
		Conn            string              `json:"conn"`
		Transport       string              `json:"transport"`
		Rooms           []string            `json:"rooms"`
		Tabs            []string            `json:"tabs"`
		Badges          []string            `json:"badges"`
		Members         []string            `json:"members"`
		Seen            map[string][]string `json:"seen"`
		ImagesLoaded    []string            `json:"imagesLoaded"`
		CompositionSafe bool                `json:"compositionSafe"`
		LastServer      string              `json:"lastServer"`
		LobbyHasPrivate bool                `json:"lobbyHasPrivate"`
		Error           string              `json:"error"`
		Log             []string            `json:"log"`
	} `json:"ui"`
}

func TestDesktopSmoke(t *testing.T) {
	for _, bin := range []string{"Xvfb", "import"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is needed (apt-get install xvfb imagemagick): %v", bin, err)
		}
	}
	root, _ := filepath.Abs("..")
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "parley")
	build := exec.Command("go", "build", "-tags", "desktop,production,webkit2_41", "-o", bin, ".")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("desktop build: %v\n%s", err, out)
	}

	display := startXvfb(t)
	// A server joined in an earlier run is kept in the settings, with the
	// key of its self-signed certificate; the certificate has been renewed
	// since, so only the key lets the app's Reconnect in.
	last, lastSettings := renewedServer(t)
	confDir := filepath.Join(tmp, "config", "parley")
	if err := os.MkdirAll(confDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(confDir, settingsFile), lastSettings, 0o600); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(tmp, "report.json")
	imgPath := filepath.Join(tmp, "from-desktop.png")
	fromDesktop := smokePNG(96, 64, 40)
	os.WriteFile(imgPath, fromDesktop, 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(), "DISPLAY="+display, "XDG_CONFIG_HOME="+filepath.Join(tmp, "config"),
		"PARLEY_TEST_REPORT="+report, "PARLEY_TEST_IMAGE="+imgPath, "PARLEY_TEST_HOST_ADDR=127.0.0.1:0",
		"WEBKIT_DISABLE_COMPOSITING_MODE=1", "GDK_BACKEND=x11", "NO_AT_BRIDGE=1")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("desktop app output:\n%s", logs.String())
		}
	})
	read := func() smokeReport {
		var r smokeReport
		b, err := os.ReadFile(report)
		if err == nil {
			json.Unmarshal(b, &r)
		}
		return r
	}
	waitReport := func(what string, pred func(smokeReport) bool) smokeReport {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for {
			r := read()
			if r.UI != nil && r.UI.Step == "failed" {
				t.Fatalf("the UI failed: %s (steps %v)", r.UI.Error, r.UI.Log)
			}
			if pred(r) {
				return r
			}
			if time.Now().After(deadline) {
				b, _ := os.ReadFile(report)
				t.Fatalf("timed out waiting for %s; report:\n%s", what, b)
			}
			time.Sleep(100 * time.Millisecond) // polling a file another process writes
		}
	}
	step := func(s string) func(smokeReport) bool {
		return func(r smokeReport) bool { return r.UI != nil && slices.Contains(r.UI.Log, s) }
	}

	gate := func(name string) { os.WriteFile(report+".gate."+name, nil, 0o600) }
	waitReport("welcome screen", step("welcome"))
	screenshot(t, display, "desktop-welcome.png")
	gate("welcome")
	waitReport("connect screen", step("connect"))
	screenshot(t, display, "desktop-connect.png")
	gate("connect")
	if r := waitReport("reconnected to the last server", step("reconnected")); r.UI.LastServer != "Last server · "+last.addr {
		t.Errorf("the connect screen offered %q, want the last server, Last server · %s", r.UI.LastServer, last.addr)
	}
	waitEv(t, last.watcher, "the desktop user back in the lobby of the last server", func(e client.Event) bool {
		return e.Kind == client.EventJoined && e.Room == "lobby" && e.User == "Host"
	})
	gate("reconnected")

	r := waitReport("hosting", step("hosting"))
	if r.Host == nil || r.Host.Port == 0 || len(r.Host.CertHash) != 64 {
		t.Fatalf("host info %+v", r.Host)
	}
	if r.UI.Transport != "· inprocess" {
		t.Errorf("the host's UI transport is %q, want in-process", r.UI.Transport)
	}
	screenshot(t, display, "desktop-host.png")

	tester, err := client.Dial(ctx, client.Config{Server: "127.0.0.1:" + strconv.Itoa(r.Host.Port), CertHash: r.Host.CertHash, Name: "Tester"})
	if err != nil {
		t.Fatal(err)
	}
	defer tester.Close()
	if _, err := tester.Join(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	ev := waitEv(t, tester, "room message from the desktop", func(e client.Event) bool { return e.Kind == client.EventMessage })
	if ev.Message.Text != "hello from desktop" || ev.Message.From != "Host" || ev.Message.Private() {
		t.Fatalf("tester got %+v", ev.Message)
	}
	if _, err := tester.Say(ctx, "lobby", "hello desktop"); err != nil {
		t.Fatal(err)
	}
	if _, err := tester.SayTo(ctx, "lobby", "Host", "psst desktop"); err != nil {
		t.Fatal(err)
	}
	ev = waitEv(t, tester, "private reply", func(e client.Event) bool { return e.Kind == client.EventMessage })
	if ev.Message.Text != "private reply" || ev.Message.To != "Tester" {
		t.Fatalf("tester got %+v", ev.Message)
	}
	waitReport("the private tab", step("sent-private"))
	screenshot(t, display, "desktop-private.png")
	fromTester := smokePNG(120, 80, 200)
	if _, err := tester.SendImage(ctx, "lobby", "", "from-tester.png", bytes.NewReader(fromTester), int64(len(fromTester))); err != nil {
		t.Fatal(err)
	}
	ev = waitEv(t, tester, "image from the desktop", func(e client.Event) bool { return e.Kind == client.EventMessage && e.Message.Image != nil })
	if ev.Message.Image.Name != "from-desktop.png" {
		t.Fatalf("image %+v", ev.Message.Image)
	}
	if _, data, err := tester.Fetch(ctx, ev.Message.Image.ID); err != nil || !bytes.Equal(data, fromDesktop) {
		t.Fatalf("fetched %d bytes: %v", len(data), err)
	}

	r = waitReport("done", step("done"))
	ui := r.UI
	if !ui.CompositionSafe {
		t.Error("an Enter during IME composition sent the message")
	}
	if ui.LobbyHasPrivate {
		t.Error("a private message was shown in the room view")
	}
	if len(ui.ImagesLoaded) < 2 {
		t.Errorf("images rendered: %v", ui.ImagesLoaded)
	}
	lobby, priv := strings.Join(ui.Seen["r:lobby"], "\n"), strings.Join(ui.Seen["p:tester"], "\n")
	for _, want := range []string{"Tester joined", "hello from desktop", "hello desktop", "from-tester.png", "from-desktop.png"} {
		if !strings.Contains(lobby, want) {
			t.Errorf("the room view never showed %q; it showed:\n%s", want, lobby)
		}
	}
	for _, want := range []string{"psst desktop", "private reply"} {
		if !strings.Contains(priv, want) {
			t.Errorf("the private tab never showed %q; it showed:\n%s", want, priv)
		}
	}
	if ui.Conn != "Connected" || !slices.Contains(ui.Members, "Tester") || !slices.Contains(ui.Tabs, "Tester") {
		t.Errorf("UI state: conn %q members %v tabs %v", ui.Conn, ui.Members, ui.Tabs)
	}
	// A private message while the room is on screen: the tab gets a badge.
	if _, err := tester.SayTo(ctx, "lobby", "Host", "one more thing"); err != nil {
		t.Fatal(err)
	}
	waitReport("unread badge", func(r smokeReport) bool { return r.UI != nil && slices.Contains(r.UI.Badges, "1") })
	screenshot(t, display, "desktop-room.png")

	// Tester was a guest: when its session ends the server drops its
	// private chat. A new Tester comes; the host reopens the chat, which
	// says that the older messages are gone (and why), and chats on.
	tester.Close()
	waitReport("Tester gone", func(r smokeReport) bool { return r.UI != nil && !slices.Contains(r.UI.Members, "Tester") })
	tester2, err := client.Dial(ctx, client.Config{Server: "127.0.0.1:" + strconv.Itoa(r.Host.Port), CertHash: r.Host.CertHash, Name: "Tester"})
	if err != nil {
		t.Fatal(err)
	}
	defer tester2.Close()
	if _, err := tester2.Join(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	gate("gone")
	r = waitReport("the gone notice", step("gone"))
	ev = waitEv(t, tester2, "the host's private message", func(e client.Event) bool { return e.Kind == client.EventMessage && e.Message.Private() })
	if ev.Message.Text != "welcome back" {
		t.Fatalf("the new Tester got %+v", ev.Message)
	}
	priv = strings.Join(r.UI.Seen["p:tester"], "\n")
	if !strings.Contains(priv, "no longer has this chat") || strings.Contains(priv, "lost its history") {
		t.Errorf("the reopened private chat showed:\n%s", priv)
	}
	screenshot(t, display, "desktop-history-gone.png")
}

func waitEv(t *testing.T, c *client.Client, what string, pred func(client.Event) bool) client.Event {
	t.Helper()
	deadline := time.After(90 * time.Second)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("events closed waiting for %s", what)
			}
			if pred(ev) {
				return ev
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func startXvfb(t *testing.T) string {
	t.Helper()
	for n := 90; n < 140; n++ {
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n)); err == nil {
			continue
		}
		display := ":" + strconv.Itoa(n)
		x := exec.Command("Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp")
		if err := x.Start(); err != nil {
			t.Fatal(err)
		}
		sock := fmt.Sprintf("/tmp/.X11-unix/X%d", n)
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := os.Stat(sock); err == nil {
				t.Cleanup(func() { x.Process.Kill(); x.Wait() })
				return display
			}
			if time.Now().After(deadline) {
				x.Process.Kill()
				x.Wait()
				break
			}
			time.Sleep(50 * time.Millisecond) // polling for the X socket
		}
	}
	t.Fatal("could not start Xvfb")
	return ""
}

// screenshot saves the screen as name in the directory that
// PARLEY_SCREENSHOTS names (`make screenshots` sets it to docs/screenshots),
// or in the test's temporary directory, so that a test run never changes the
// checkout.
func screenshot(t *testing.T, display, name string) {
	t.Helper()
	dir := os.Getenv("PARLEY_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	out := filepath.Join(dir, name)
	// The screen is larger than the window: -trim crops the black around it.
	cmd := exec.Command("import", "-display", display, "-window", "root", "-trim", "+repage", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("screenshot %s: %v\n%s", name, err, b)
		return
	}
	t.Logf("screenshot: %s", out)
}

// smokePNG is a colourful test picture (its hue sets it apart).
func smokePNG(w, h int, hue uint8) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{hue, uint8(x * 255 / w), uint8(y * 255 / h), 255})
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return buf.Bytes()
}

// lastServer is a server the smoke test's app joined "in an earlier run".
type lastServer struct {
	addr    string
	watcher *client.Client // in its lobby
}

// renewedServer starts a server on a self-signed certificate that is
// renewed after a first client learned its key, and returns it with the
// settings file of an app whose last connection was to it: the old
// certificate hash and the key.
func renewedServer(t *testing.T) (lastServer, []byte) {
	t.Helper()
	p := certtest.NewRenewable(t)
	srv, err := server.New(server.Config{Name: "Last server", TLS: p.TLSConfig(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(sctx) }()
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		stop()
		<-done
	})
	addr := srv.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	oldHash := p.Hash()
	first, err := client.Dial(ctx, client.Config{Server: addr, CertHash: oldHash, Name: "Earlier"})
	if err != nil {
		t.Fatal(err)
	}
	key := first.KeyHash()
	first.Close()
	newHash := p.Renew(t)
	watcher, err := client.Dial(ctx, client.Config{Server: addr, CertHash: newHash, Name: "Watcher"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { watcher.Close() })
	if _, err := watcher.Join(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(Settings{Server: addr, ServerName: "Last server", CertHash: oldHash, KeyHash: key})
	if err != nil {
		t.Fatal(err)
	}
	return lastServer{addr: addr, watcher: watcher}, b
}
