package bridge

import (
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"testing"

	"parley/client"
	"parley/protocol"
)

// hasConv says whether st lists conversation id.
func hasConv(st Status, id string) bool {
	for _, c := range st.Conversations {
		if c.ID == id {
			return true
		}
	}
	return false
}

// While Connect dials, the conversations shown from the cache are in
// Status and can be made active: a UI that files SetActive's status (the
// web UI does) keeps showing them. A failed dial takes them away again.
func TestStatusListsRestoredWhileDialing(t *testing.T) {
	ts := runServer(t, protocol.Limits{})
	dir := filepath.Join(t.TempDir(), "cache")
	_, alice, _ := ed25519.GenerateKey(nil)
	req := ConnectRequest{Server: ts.addr, CertHash: ts.hash, Name: "Alice", Room: "lobby"}
	b1, rec1 := cachedBridge(t, dir, alice, nil)
	if _, err := b1.Connect(req); err != nil {
		t.Fatal(err)
	}
	bob := goClient(t, ts, "Bob", "lobby")
	if _, err := bob.Say(t.Context(), "lobby", "cached"); err != nil {
		t.Fatal(err)
	}
	rec1.waitFor(t, "cached", isMsg("r:lobby", "cached"))
	b1.Close()

	// The dial is held: the past is shown, Status lists it.
	release := make(chan struct{})
	b2, rec2 := cachedBridge(t, dir, alice, release)
	done := connectAsync(b2, req)
	rec2.waitFor(t, "the cached past", isMsg("r:lobby", "cached"))
	st, err := b2.SetActive("r:lobby", true)
	if err != nil || st.State != StateConnecting || !hasConv(st, "r:lobby") || st.Active != "r:lobby" {
		t.Fatalf("SetActive while dialing: %+v, %v; want connecting, r:lobby listed and active", st, err)
	}
	if st, _ := b2.Status(); !hasConv(st, "r:lobby") {
		t.Fatalf("Status while dialing lacks the restored room: %+v", st)
	}
	if st, _ := b2.SetActive("r:nowhere", true); st.Active != "r:lobby" {
		t.Fatalf("SetActive of a conversation not shown made it active: %+v", st)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st, _ := b2.Status(); !hasConv(st, "r:lobby") || len(st.Conversations) != 1 {
		t.Fatalf("Status once connected: %+v; want the room once", st.Conversations)
	}
	b2.Close()

	// A dial that fails: the room is listed while it is tried, and
	// nothing restored is left in Status after.
	var b3 *Bridge
	listed := make(chan bool, 1)
	b3 = New(Options{Emit: newRecorder().emit, ClientName: "parley-bridge-test/1", Cache: NewFileCache(dir), Identity: alice,
		Dial: func(context.Context, client.Config) (*client.Client, error) {
			st, _ := b3.Status()
			listed <- hasConv(st, "r:lobby")
			return nil, errors.New("unreachable")
		}})
	t.Cleanup(func() { b3.Close() })
	if _, err := b3.Connect(req); err == nil {
		t.Fatal("Connect with a failing dial: no error")
	}
	if !<-listed {
		t.Error("the restored room was not in Status during the dial")
	}
	if st, _ := b3.Status(); len(st.Conversations) != 0 || st.Active != "" || st.State != StateOffline {
		t.Fatalf("Status after the failed dial: %+v; want offline with no conversations", st)
	}
}
