package app

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"parley/bridge"
	"parley/internal/atomicfile"
	"parley/internal/lan"
	"parley/protocol"
)

// Settings are what the desktop app remembers between runs.
type Settings struct {
	Name     string `json:"name"`
	Server   string `json:"server"`
	CertHash string `json:"certHash"`
	// KeyHash is the server's key as the last connection to Server
	// trusted it (bridge.Status.KeyHash): given back on the next connect,
	// it survives the server's certificate renewals. Empty or 64 hex digits.
	KeyHash string `json:"keyHash"`
	// ServerName is what Server called itself (shown beside its address).
	// At most maxServerName characters.
	ServerName string `json:"serverName"`
	Room       string `json:"room"`
	// Servers is what was open on each server (by bridge.ServerKey; the
	// host's own server is "inprocess"): kept by the app as rooms are
	// joined and left and private chats opened and closed; SaveSettings
	// leaves it as it is.
	Servers map[string]ServerMemory `json:"servers,omitempty"`
}

// ServerMemory is what was open on one server, and when that last changed.
type ServerMemory struct {
	bridge.Remembered
	At int64 `json:"at"` // Unix ms
}

// Bounds of Settings.Servers: servers remembered (the least recently
// used are forgotten first) and the length of a server key.
const (
	MaxRememberedServers = 16
	maxServerKey         = 300
)

// File names in the config directory.
const (
	settingsFile = "settings.json"
	// maxServerName bounds Settings.ServerName, as servers bound their
	// names (parley serve --name).
	maxServerName = 64
	identityFile  = "identity.key"
	// maxSettingsFile bounds what is read back from disk: the remembered
	// servers at their bounds fit.
	maxSettingsFile = 1 << 20
)

// DefaultConfigDir is os.UserConfigDir()/parley.
func DefaultConfigDir() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "parley"), nil
}

func (s Settings) clean() (Settings, error) {
	out := Settings{Server: strings.TrimSpace(s.Server), CertHash: strings.ToLower(strings.TrimSpace(s.CertHash)), KeyHash: strings.ToLower(strings.TrimSpace(s.KeyHash))}
	if n := strings.TrimSpace(s.Name); n != "" {
		name, err := protocol.CleanName(n)
		if err != nil {
			return Settings{}, err
		}
		out.Name = name
	}
	if r := strings.TrimSpace(s.Room); r != "" {
		room, err := protocol.CleanRoom(r)
		if err != nil {
			return Settings{}, err
		}
		out.Room = room
	}
	if len(out.Server) > 300 || len(out.CertHash) > 64 {
		return Settings{}, protocol.Errorf(protocol.CodeBadRequest, "server or certificate hash too long")
	}
	out.ServerName = strings.TrimSpace(s.ServerName)
	if utf8.RuneCountInString(out.ServerName) > maxServerName {
		return Settings{}, protocol.Errorf(protocol.CodeBadRequest, "the server name is longer than %d characters", maxServerName)
	}
	if out.KeyHash != "" {
		if _, err := lan.CheckKeyHash(out.KeyHash); err != nil {
			return Settings{}, protocol.Errorf(protocol.CodeBadRequest, "%v", err)
		}
	}
	out.Servers = cleanServers(s.Servers)
	return out, nil
}

// cleanServers drops what is not valid of remembered servers and keeps the
// MaxRememberedServers most recently used.
func cleanServers(in map[string]ServerMemory) map[string]ServerMemory {
	out := map[string]ServerMemory{}
	for k, m := range in {
		k = bridge.ServerKey(k)
		if k == "" || len(k) > maxServerKey || strings.ContainsAny(k, " \t\r\n") {
			continue
		}
		r := m.Remembered.Clean()
		if len(r.Rooms) == 0 && len(r.Privates) == 0 {
			continue
		}
		if old, ok := out[k]; !ok || old.At < m.At {
			out[k] = ServerMemory{Remembered: r, At: m.At}
		}
	}
	for len(out) > MaxRememberedServers {
		oldest := ""
		for k, m := range out {
			if oldest == "" || m.At < out[oldest].At || (m.At == out[oldest].At && k < oldest) {
				oldest = k
			}
		}
		delete(out, oldest)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func loadSettings(dir string) (Settings, error) {
	b, err := readLimited(filepath.Join(dir, settingsFile), maxSettingsFile)
	if errors.Is(err, fs.ErrNotExist) {
		return Settings{}, nil
	}
	if err != nil {
		return Settings{}, err
	}
	var s Settings
	if err := json.Unmarshal(b, &s); err != nil {
		return Settings{}, nil // a damaged file: start over rather than refuse to open
	}
	if s, err = s.clean(); err != nil {
		return Settings{}, nil
	}
	return s, nil
}

func saveSettings(dir string, s Settings) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writePrivate(dir, settingsFile, b)
}

// loadIdentity reads the identity key, making one on first use.
func loadIdentity(dir string) (ed25519.PrivateKey, error) {
	b, err := readLimited(filepath.Join(dir, identityFile), maxSettingsFile)
	if err == nil {
		seed, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if derr != nil || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("app: %s is damaged; move it away to make a new identity", filepath.Join(dir, identityFile))
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := writePrivate(dir, identityFile, []byte(base64.StdEncoding.EncodeToString(key.Seed())+"\n")); err != nil {
		return nil, err
	}
	return key, nil
}

// writePrivate writes dir/name with mode 0600 (dir 0700), atomically.
func writePrivate(dir, name string, data []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, name), data, 0o600)
}
