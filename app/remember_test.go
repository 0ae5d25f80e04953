package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"parley/bridge"
	"parley/protocol"
)

// The rooms joined and private chats open are kept in the settings per
// server and opened again by the next run; the UI saving its settings
// does not overwrite them, and leaving is remembered.
func TestRoomsRememberedInSettings(t *testing.T) {
	a, _, dir := newApp(t)
	if _, err := a.SaveSettings(Settings{Name: "Host"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.StartHosting(HostRequest{Room: "lobby"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"Games", "music"} {
		if _, err := a.JoinRoom(r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.LeaveRoom("r:music"); err != nil {
		t.Fatal(err)
	}
	// The UI saves what it knows (no servers): what is open stays.
	if _, err := a.SaveSettings(Settings{Name: "Host", Room: "Games"}); err != nil {
		t.Fatal(err)
	}
	var onDisk Settings
	b, _ := os.ReadFile(filepath.Join(dir, settingsFile))
	if err := json.Unmarshal(b, &onDisk); err != nil {
		t.Fatal(err)
	}
	if got := onDisk.Servers["inprocess"].Rooms; !reflect.DeepEqual(got, []string{"lobby", "Games"}) {
		t.Fatalf("remembered on disk: %+v", onDisk.Servers)
	}
	Close(a)

	// The next run hosts again (asking for lobby only): Games is back.
	a2, _ := reopen(t, dir)
	if _, err := a2.StartHosting(HostRequest{}); err != nil {
		t.Fatal(err)
	}
	st, _ := a2.Status()
	var ids []string
	for _, c := range st.Conversations {
		ids = append(ids, c.ID)
	}
	if strings.Join(ids, ",") != "r:games,r:lobby" && strings.Join(ids, ",") != "r:lobby,r:games" {
		t.Fatalf("conversations of the next run: %v", ids)
	}
}

func TestRememberedServersBounded(t *testing.T) {
	in := map[string]ServerMemory{}
	for i := 0; i <= MaxRememberedServers; i++ {
		in["Host"+strconv.Itoa(i)+":1"] = ServerMemory{Remembered: bridge.Remembered{Rooms: []string{"lobby"}}, At: int64(100 + i)}
	}
	in["empty:1"] = ServerMemory{At: 999}
	in["bad key:1"] = ServerMemory{Remembered: bridge.Remembered{Rooms: []string{"lobby"}}, At: 999}
	in[strings.Repeat("h", maxServerKey+1)] = ServerMemory{Remembered: bridge.Remembered{Rooms: []string{"lobby"}}, At: 999}
	in["bad:1"] = ServerMemory{Remembered: bridge.Remembered{Rooms: []string{strings.Repeat("r", protocol.MaxRoomLen+1)}}, At: 999}
	out := cleanServers(in)
	if len(out) != MaxRememberedServers {
		t.Fatalf("%d servers kept: %v", len(out), out)
	}
	if _, ok := out["host0:1"]; ok {
		t.Fatal("the least recently used server was kept")
	}
	if _, ok := out["host16:1"]; !ok {
		t.Fatal("the most recent server was dropped")
	}
	// A full settings file is read back.
	dir := t.TempDir()
	full := Settings{Name: "n", Servers: map[string]ServerMemory{}}
	long := strings.Repeat("\u4e16", protocol.MaxRoomLen)
	for i := 0; i < MaxRememberedServers; i++ {
		m := ServerMemory{At: int64(i)}
		for j := 0; j < bridge.MaxRemembered; j++ {
			m.Rooms = append(m.Rooms, long[:len(long)-3*len(strconv.Itoa(j))]+strconv.Itoa(j))
			m.Privates = append(m.Privates, "user"+strconv.Itoa(j))
		}
		full.Servers["server"+strconv.Itoa(i)+":4433"] = m
	}
	if err := saveSettings(dir, full); err != nil {
		t.Fatal(err)
	}
	got, err := loadSettings(dir)
	if err != nil || len(got.Servers) != MaxRememberedServers || len(got.Servers["server3:4433"].Rooms) != bridge.MaxRemembered {
		t.Fatalf("full settings read back: %d servers, %v", len(got.Servers), err)
	}
}
