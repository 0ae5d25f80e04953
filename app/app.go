package app

import (
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"parley/bridge"
	"parley/internal/lan"
	"parley/protocol"
)

// ClientName is what the desktop app says it is in hello.
const ClientName = "parley-desktop/0.1"

// DefaultRoom is joined on a server where nothing is remembered and no
// room was asked for.
const DefaultRoom = "lobby"

// Config configures an App. The zero value is the real desktop app.
type Config struct {
	// ConfigDir holds settings.json and identity.key. Empty: DefaultConfigDir.
	ConfigDir string
	// Shell is the native window; nil: no window (tests).
	Shell Shell
	// HostAddr is where Host on LAN listens. Empty: ":4433", or any free
	// port when 4433 is taken.
	HostAddr string
	// Discover finds servers on the LAN; nil: lan.Discover.
	Discover func(ctx context.Context) ([]lan.Server, error)
	// TestReport, if set, enables the test hooks (TestMode, TestReport):
	// the UI's reports are written to this file.
	TestReport string
	// TestImage is the image the test hook drops on the window.
	TestImage string
	// Logger receives diagnostics; nil: slog.Default().
	Logger *slog.Logger
	// CacheDir holds the history cache (recent messages per conversation,
	// files 0600). Empty: ConfigDir/cache when ConfigDir is set, else
	// os.UserCacheDir()/parley/history.
	CacheDir string
	// AnnounceEvery is how often the member count announced on the LAN is
	// refreshed while hosting. Zero: AnnounceRefresh.
	AnnounceEvery time.Duration
}

func (c Config) announceEvery() time.Duration {
	if c.AnnounceEvery > 0 {
		return c.AnnounceEvery
	}
	return AnnounceRefresh
}

// App is the object bound to the Wails window.
type App struct {
	cfg    Config
	dir    string
	key    ed25519.PrivateKey
	bridge *bridge.Bridge
	log    *slog.Logger

	shellMu sync.Mutex
	shell   Shell

	hostMu sync.Mutex // serialises StartHosting and StopHosting; before mu
	mu     sync.Mutex
	set    Settings
	host   *hosting
}

// New loads (or makes) the settings and identity key and returns an App.
func New(cfg Config) (*App, error) {
	dir := cfg.ConfigDir
	if dir == "" {
		d, err := DefaultConfigDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	key, err := loadIdentity(dir)
	if err != nil {
		return nil, err
	}
	set, err := loadSettings(dir)
	if err != nil {
		return nil, err
	}
	cacheDir := cfg.CacheDir
	if cacheDir == "" {
		cacheDir = filepath.Join(dir, "cache")
		if cfg.ConfigDir == "" {
			if d, err := os.UserCacheDir(); err == nil {
				cacheDir = filepath.Join(d, "parley", "history")
			}
		}
	}
	a := &App{cfg: cfg, dir: dir, key: key, set: set, log: cfg.Logger, shell: cfg.Shell}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.shell == nil {
		a.shell = nopShell{}
	}
	a.bridge = bridge.New(bridge.Options{
		Emit:        func(name string, data any) { a.sh().Emit(name, data) },
		OnUnread:    a.setTitle,
		Identity:    key,
		ClientName:  ClientName,
		ParseLink:   parseLink,
		Logger:      a.log,
		Cache:       bridge.NewFileCache(cacheDir),
		Recall:      a.recall,
		Remember:    a.remember,
		DefaultRoom: DefaultRoom,
	})
	return a, nil
}

// SetShell attaches the window once Wails has started (OnStartup).
func SetShell(a *App, s Shell) {
	a.shellMu.Lock()
	a.shell = s
	a.shellMu.Unlock()
	a.setTitle(0)
}

// Close stops hosting and closes the connection (Wails OnShutdown).
func Close(a *App) {
	a.StopHosting()
	a.bridge.Close()
}

// DropFiles sends files dropped on the window to the conversation on
// screen (Wails OnFileDrop).
func DropFiles(a *App, paths []string) {
	st, _ := a.bridge.Status()
	if st.Active == "" {
		a.notice("warn", "Open a conversation before dropping an image on it.")
		return
	}
	for _, p := range paths {
		m, err := a.bridge.SendImageFile(st.Active, p)
		if err != nil {
			a.notice("error", filepath.Base(p)+": "+messageOf(err))
			continue
		}
		a.sh().Emit(bridge.EventName, []bridge.Event{{Kind: bridge.EvMessage, Conv: m.Conv, Message: &m}})
	}
}

func (a *App) sh() Shell {
	a.shellMu.Lock()
	defer a.shellMu.Unlock()
	return a.shell
}

func (a *App) setTitle(unread int) {
	title := "Parley"
	if unread > 0 {
		title = "(" + strconv.Itoa(unread) + ") Parley"
	}
	a.sh().SetTitle(title)
}

func (a *App) notice(level, text string) {
	a.sh().Emit(bridge.EventName, []bridge.Event{{Kind: bridge.EvNotice, Level: level, Text: text}})
}

func messageOf(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Message
	}
	return err.Error()
}

func parseLink(s string) (server, hash, key, room string, err error) {
	l, err := lan.ParseLink(s)
	if err != nil {
		return "", "", "", "", err
	}
	return l.Addr(), l.Hash, l.Key, l.Room, nil
}

// ---- settings -------------------------------------------------------------

// Settings returns the saved settings.
func (a *App) Settings() (Settings, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.set, nil
}

// SaveSettings validates and saves the settings (file mode 0600).
func (a *App) SaveSettings(s Settings) (Settings, error) {
	s, err := s.clean()
	if err != nil {
		return Settings{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s.Servers = a.set.Servers // kept by remember, not by the UI
	if err := saveSettings(a.dir, s); err != nil {
		return Settings{}, &protocol.Error{Code: bridge.CodeUnavailable, Message: "cannot save the settings: " + err.Error()}
	}
	a.set = s
	return s, nil
}

// recall is bridge.Options.Recall: what was open on server.
func (a *App) recall(server string) bridge.Remembered {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.set.Servers[server]
	return bridge.Remembered{Rooms: append([]string(nil), m.Rooms...), Privates: append([]string(nil), m.Privates...)}
}

// remember is bridge.Options.Remember: it keeps what is open on server in
// the settings (a server with nothing open is forgotten).
func (a *App) remember(server string, open bridge.Remembered) {
	a.mu.Lock()
	defer a.mu.Unlock()
	next := a.set
	next.Servers = make(map[string]ServerMemory, len(a.set.Servers)+1)
	for k, v := range a.set.Servers {
		next.Servers[k] = v
	}
	next.Servers[server] = ServerMemory{Remembered: open, At: max(time.Now().UnixMilli(), next.Servers[server].At+1)}
	next.Servers = cleanServers(next.Servers)
	if err := saveSettings(a.dir, next); err != nil {
		a.log.Warn("cannot save what is open", "server", server, "err", err)
	}
	a.set = next // kept for this run even if it could not be written
}

// ---- the chat: forwarded to the bridge --------------------------------------

// Connect connects to a server (see bridge.Bridge.Connect).
func (a *App) Connect(req bridge.ConnectRequest) (bridge.Status, error) {
	return a.bridge.Connect(req)
}

// Disconnect closes the connection.
func (a *App) Disconnect() (bridge.Status, error) { return a.bridge.Disconnect() }

// Status reports the connection and the open conversations.
func (a *App) Status() (bridge.Status, error) { return a.bridge.Status() }

// JoinRoom joins or creates a room.
func (a *App) JoinRoom(room string) (bridge.Page, error) { return a.bridge.JoinRoom(room) }

// LeaveRoom leaves a room.
func (a *App) LeaveRoom(conv string) (bridge.Status, error) { return a.bridge.LeaveRoom(conv) }

// ServerRooms lists the server's rooms.
func (a *App) ServerRooms() ([]bridge.RoomEntry, error) { return a.bridge.ServerRooms() }

// Members asks for a room's members.
func (a *App) Members(conv string) ([]string, error) { return a.bridge.Members(conv) }

// OpenPrivate opens the private chat with a user.
func (a *App) OpenPrivate(name string) (bridge.Page, error) { return a.bridge.OpenPrivate(name) }

// ClosePrivate closes a private chat's tab.
func (a *App) ClosePrivate(conv string) (bridge.Status, error) { return a.bridge.ClosePrivate(conv) }

// Send sends a text (pending until its ack event).
func (a *App) Send(req bridge.SendRequest) (bridge.Message, error) { return a.bridge.Send(req) }

// SendImage sends an image read by the page (paste).
func (a *App) SendImage(req bridge.SendImageRequest) (bridge.Message, error) {
	return a.bridge.SendImage(req)
}

// FetchImage fetches an image as a data: URL.
func (a *App) FetchImage(id string) (bridge.ImageData, error) { return a.bridge.FetchImage(id) }

// LoadOlder returns older messages of a conversation.
func (a *App) LoadOlder(conv string) (bridge.Page, error) { return a.bridge.LoadOlder(conv) }

// Typing tells a room that the user types.
func (a *App) Typing(conv string) (bool, error) { return a.bridge.Typing(conv) }

// SetActive says which conversation is on screen and whether the window has focus.
func (a *App) SetActive(conv string, focused bool) (bridge.Status, error) {
	return a.bridge.SetActive(conv, focused)
}

// ---- native dialogs ---------------------------------------------------------

// PickImage opens the native file dialog and sends the chosen image to
// conv. A cancelled dialog returns an empty Message.
func (a *App) PickImage(conv string) (bridge.Message, error) {
	path, err := a.sh().OpenImageDialog()
	if err != nil {
		return bridge.Message{}, &protocol.Error{Code: bridge.CodeUnavailable, Message: "the file dialog failed: " + err.Error()}
	}
	if path == "" {
		return bridge.Message{}, nil
	}
	return a.bridge.SendImageFile(conv, path)
}

// SaveImage asks where to save an image and writes it there; it returns
// the path, or "" when cancelled.
func (a *App) SaveImage(id, name string) (string, error) {
	_, data, err := a.bridge.ImageBytes(id)
	if err != nil {
		return "", err
	}
	name = filepath.Base(filepath.Clean("/" + name))
	if name == "/" || name == "." || protocol.CheckImageName(name) != nil {
		name = "image"
	}
	path, err := a.sh().SaveFileDialog(name)
	if err != nil {
		return "", &protocol.Error{Code: bridge.CodeUnavailable, Message: "the save dialog failed: " + err.Error()}
	}
	if path == "" {
		return "", nil
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return "", &protocol.Error{Code: bridge.CodeUnavailable, Message: "cannot save: " + err.Error()}
	}
	return path, nil
}
