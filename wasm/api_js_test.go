//go:build js && wasm

package main

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"strings"
	"syscall/js"
	"testing"
	"time"

	"parley/bridge"
	"parley/internal/jsinterop"
	"parley/protocol"
)

// fakeBridge has a few of bridge's UI methods, with bridge's shapes.
type fakeBridge struct{ got []any }

func (f *fakeBridge) Connect(req bridge.ConnectRequest) (bridge.Status, error) {
	f.got = append(f.got, req)
	if req.Name == "" {
		return bridge.Status{}, protocol.Errorf(protocol.CodeBadName, "a name is required")
	}
	return bridge.Status{State: bridge.StateConnected, Name: req.Name}, nil
}

func (f *fakeBridge) SetActive(conv string, focused bool) (bridge.Status, error) {
	f.got = append(f.got, conv, focused)
	return bridge.Status{Active: conv}, nil
}

func (f *fakeBridge) Typing(string) (bool, error) { panic("boom") }

// Close is not a UI method: it must not be callable.
func (f *fakeBridge) Close() (bool, error) { return true, nil }

func TestCallDispatchesUIMethodsOnly(t *testing.T) {
	f := &fakeBridge{}
	a := newAPI(f, newEvents(), nil, false)
	s, err := a.call("Connect", `[{"name":"Alice","server":"h:1"}]`)
	if err != nil || !strings.Contains(s, `"state":"connected"`) || !strings.Contains(s, `"name":"Alice"`) {
		t.Fatalf("Connect: %s %v", s, err)
	}
	if _, err := a.call("SetActive", `["r:lobby", true]`); err != nil || f.got[1] != "r:lobby" || f.got[2] != true {
		t.Fatalf("SetActive: %v %v", f.got, err)
	}
	for _, tc := range []struct {
		method, args string
		code         protocol.Code
	}{
		{"Connect", `[{"name":""}]`, protocol.CodeBadName},
		{"Close", `[]`, protocol.CodeBadRequest},
		{"constructor", `[]`, protocol.CodeBadRequest},
		{"Connect", `[]`, protocol.CodeBadRequest},
		{"Connect", `{"name":"x"}`, protocol.CodeBadRequest},
		{"SetActive", `[1, true]`, protocol.CodeBadRequest},
		{"Connect", `[` + strings.Repeat(" ", maxArgsJSON) + `]`, protocol.CodeTooLarge},
	} {
		_, err := a.call(tc.method, tc.args)
		if protocol.CodeOf(err) != tc.code {
			t.Errorf("%s %.40s: %v, want %s", tc.method, tc.args, err, tc.code)
		}
	}
}

func TestExportedPromises(t *testing.T) {
	a := newAPI(&fakeBridge{}, newEvents(), nil, false)
	o := a.export()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := jsinterop.Await(ctx, o.Call("call", "Connect", `[{"name":"Bo"}]`))
	if err != nil || !strings.Contains(v.String(), `"name":"Bo"`) {
		t.Fatalf("call: %v %v", v, err)
	}
	req := js.Global().Get("Object").New()
	req.Set("name", "Cy")
	v, err = jsinterop.Await(ctx, o.Call("Connect", req))
	if err != nil || v.Get("name").String() != "Cy" {
		t.Fatalf("Connect(obj): %v %v", v, err)
	}
	_, err = jsinterop.Await(ctx, o.Call("call", "Connect", `[{"name":""}]`))
	if err == nil || !strings.Contains(err.Error(), "bad_name: a name is required") {
		t.Fatalf("rejection %v, want \"bad_name: …\"", err)
	}
	// A panic in a method rejects its promise; the module goes on.
	_, err = jsinterop.Await(ctx, o.Call("Typing", "r:x"))
	if err == nil || !strings.Contains(err.Error(), "internal") {
		t.Fatalf("panic: %v", err)
	}
	if o.Get("Close").Truthy() || o.Get("LeaveRoom").Truthy() {
		t.Fatal("exported a method the target lacks or the UI may not call")
	}
}

func TestEventsFanOut(t *testing.T) {
	ev := newEvents()
	got := make(chan string, 4)
	cb := js.FuncOf(func(_ js.Value, args []js.Value) any { got <- args[0].String(); return nil })
	defer cb.Release()
	thrower := js.Global().Get("Function").New("throw new Error('ui bug')")
	off := ev.subscribe(thrower)
	ev.subscribe(cb.Value)
	ev.emit(bridge.EventName, []bridge.Event{{Kind: bridge.EvTyping, User: "Al"}})
	if s := <-got; !strings.Contains(s, `"kind":"typing"`) || !strings.Contains(s, `"user":"Al"`) {
		t.Fatalf("batch %s", s)
	}
	off.Invoke()
	off.Invoke() // twice is harmless
	ev.emit("other", 1)
	ev.emit(bridge.EventName, []bridge.Event{{Kind: bridge.EvState}})
	if s := <-got; !strings.Contains(s, `"kind":"state"`) {
		t.Fatalf("batch %s", s)
	}
}

func TestWebCryptoIdentitySigns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Node has WebCrypto Ed25519 but no IndexedDB: the key is not kept.
	s, persistent, err := loadIdentity(ctx)
	if err != nil {
		t.Fatalf("loadIdentity: %v", err)
	}
	if persistent {
		t.Fatal("persistent without IndexedDB")
	}
	if s.priv.Get("extractable").Bool() {
		t.Fatal("private key is extractable")
	}
	var signer crypto.Signer = s
	msg := []byte("0123456789abcdef0123456789abcdef")
	sig, err := signer.Sign(nil, msg, crypto.Hash(0))
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(signer.Public().(ed25519.PublicKey), msg, sig) {
		t.Fatal("signature does not verify")
	}
	if _, err := signer.Sign(nil, msg, crypto.SHA256); err == nil {
		t.Fatal("signed a digest")
	}
	if _, err := signerOf(ctx, js.Global().Get("Object").New()); err == nil {
		t.Fatal("accepted a pair without keys")
	}
}
