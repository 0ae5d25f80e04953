package servecmd

import (
	"context"
	"io"
	"testing"
	"time"

	"parley/internal/lan"
	"parley/internal/lan/lantest"
)

// TestServeLAN runs `parley serve --lan` in a network namespace and finds
// it with lan.Discover: the announced hash, port and name are the served
// ones, and the announcement ends with the server.
func TestServeLAN(t *testing.T) {
	if !lantest.InNetns(t) {
		return
	}
	o, err := Parse([]string{"--addr", ":0", "--lan", "--log-format", "json", "--name", "Netns host"},
		func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logs := newLogLines()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, o, logs) }()
	defer func() {
		cancel()
		<-done
	}()
	rec := logs.wait(t, "parley serve ready", 30*time.Second)
	r := decodeReady(t, rec)
	if rec["lan"] != lan.ServiceType {
		t.Fatalf("ready line %v does not say the LAN announcement runs; log:\n%s", rec, logs)
	}
	link, err := lan.ParseLink(r.Join)
	if err != nil {
		t.Fatal(err)
	}
	var found lan.Server
	deadline := time.Now().Add(15 * time.Second)
	for found.CertHash == "" && time.Now().Before(deadline) {
		list, err := lan.Discover(context.Background(), 500*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list {
			if s.CertHash == r.CertHash {
				found = s
			}
		}
	}
	if found.CertHash == "" {
		t.Fatalf("lan.Discover never found the server (hash %s)", r.CertHash)
	}
	if found.Port != link.Port || found.Name != "Netns host" || found.Version != 1 {
		t.Errorf("discovered %+v; served on port %d as %q", found, link.Port, "Netns host")
	}

	// The discovered address reaches the server.
	s := dialRaw(t, found.Link("").ServerURL(), found.CertHash)
	hello(t, s, "lan-user")

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	done <- nil
	list, err := lan.Discover(context.Background(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.CertHash == r.CertHash {
			t.Errorf("still announced after shutdown: %+v", s)
		}
	}
}
