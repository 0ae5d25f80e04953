package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	"parley/protocol"
)

// TestMode reports whether the test hooks are on (Config.TestReport set,
// only by the desktop smoke test through PARLEY_TEST_REPORT).
func (a *App) TestMode() (bool, error) { return a.cfg.TestReport != "", nil }

// TestReport writes what the UI says it rendered to the report file
// (test hooks only). The snapshot is stored under "ui".
func (a *App) TestReport(snapshot json.RawMessage) (bool, error) {
	if a.cfg.TestReport == "" {
		return false, protocol.Errorf(protocol.CodeBadRequest, "test hooks are off")
	}
	if len(snapshot) > 1<<20 || !json.Valid(snapshot) {
		return false, protocol.Errorf(protocol.CodeBadRequest, "bad snapshot")
	}
	return true, a.writeReport("ui", snapshot)
}

// TestDropImage drops Config.TestImage on the window, through the same
// path as a real file drop (test hooks only).
func (a *App) TestDropImage() (bool, error) {
	if a.cfg.TestReport == "" || a.cfg.TestImage == "" {
		return false, protocol.Errorf(protocol.CodeBadRequest, "test hooks are off")
	}
	DropFiles(a, []string{a.cfg.TestImage})
	return true, nil
}

func (a *App) reportHost(info HostInfo) {
	if a.cfg.TestReport == "" {
		return
	}
	b, _ := json.Marshal(info)
	a.writeReport("host", b)
}

// writeReport stores part under key in the report file, atomically.
func (a *App) writeReport(key string, part json.RawMessage) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	all := map[string]json.RawMessage{}
	if b, err := os.ReadFile(a.cfg.TestReport); err == nil {
		_ = json.Unmarshal(b, &all)
	}
	all[key] = part
	b, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	return writePrivate(filepath.Dir(a.cfg.TestReport), filepath.Base(a.cfg.TestReport), b)
}

// TestGate waits (at most a minute) until the test opens the gate name,
// by creating the file <report>.gate.<name>, so that the test can take a
// screenshot of a screen before the UI moves on (test hooks only).
func (a *App) TestGate(name string) (bool, error) {
	if a.cfg.TestReport == "" || len(name) > 32 || strings.ContainsAny(name, "/\\.") {
		return false, protocol.Errorf(protocol.CodeBadRequest, "test hooks are off")
	}
	path := a.cfg.TestReport + ".gate." + name
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return true, nil
		}
		time.Sleep(50 * time.Millisecond) // polling a file the test creates
	}
	return false, protocol.Errorf(protocol.CodeBadRequest, "gate %s was not opened", name)
}
