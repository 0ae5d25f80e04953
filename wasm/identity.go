//go:build js && wasm

package main

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"syscall/js"
	"time"

	"parley/internal/jsinterop"
)

// IndexedDB names of the identity key.
const (
	idbName    = "parley"
	idbStore   = "keys"
	idbKey     = "identity"
	signWithin = 10 * time.Second
)

// webCryptoSigner is a crypto.Signer over a non-extractable WebCrypto
// Ed25519 private key. Sign awaits crypto.subtle.sign, so it must be
// called from a goroutine, never from a js.FuncOf callback.
type webCryptoSigner struct {
	priv js.Value // CryptoKey, extractable false
	pub  ed25519.PublicKey
}

// Public returns the ed25519.PublicKey.
func (s *webCryptoSigner) Public() crypto.PublicKey { return s.pub }

// Sign signs msg (not a digest: Ed25519 signs the message itself).
func (s *webCryptoSigner) Sign(_ io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts != nil && opts.HashFunc() != crypto.Hash(0) {
		return nil, errors.New("wasm: Ed25519 signs messages, not digests")
	}
	ctx, cancel := context.WithTimeout(context.Background(), signWithin)
	defer cancel()
	var p js.Value
	if err := jsinterop.Try(func() { p = subtle().Call("sign", alg(), s.priv, jsinterop.Uint8Array(msg)) }); err != nil {
		return nil, fmt.Errorf("wasm: sign: %w", err)
	}
	sig, err := jsinterop.Await(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("wasm: sign: %w", err)
	}
	b := jsinterop.Bytes(nil, sig)
	if len(b) != ed25519.SignatureSize {
		return nil, fmt.Errorf("wasm: sign: %d-byte signature", len(b))
	}
	return b, nil
}

func subtle() js.Value {
	c := js.Global().Get("crypto")
	if c.Type() != js.TypeObject {
		return js.Undefined()
	}
	return c.Get("subtle")
}

func alg() js.Value {
	a := js.Global().Get("Object").New()
	a.Set("name", "Ed25519")
	return a
}

// loadIdentity returns the browser's identity key from IndexedDB, making
// and storing one the first time. persistent is false when the key could
// not be stored (no IndexedDB): it then lasts as long as the page.
func loadIdentity(ctx context.Context) (s *webCryptoSigner, persistent bool, err error) {
	if subtle().Type() != js.TypeObject {
		return nil, false, errors.New("wasm: no WebCrypto (crypto.subtle needs a secure context)")
	}
	db, dbErr := idbOpen(ctx)
	if dbErr == nil {
		defer db.Call("close")
		pair, err := idbGet(ctx, db)
		if err == nil && pair.Type() == js.TypeObject {
			if s, err := signerOf(ctx, pair); err == nil {
				return s, true, nil
			}
		}
	}
	pair, err := generate(ctx)
	if err != nil {
		return nil, false, err
	}
	if dbErr != nil {
		s, err := signerOf(ctx, pair)
		return s, false, err
	}
	// add, not put: if another tab stored a key meanwhile, use that one.
	if err := idbAdd(ctx, db, pair); err != nil {
		if stored, gerr := idbGet(ctx, db); gerr == nil && stored.Type() == js.TypeObject {
			pair = stored
		} else {
			s, err := signerOf(ctx, pair)
			return s, false, err
		}
	}
	s, err = signerOf(ctx, pair)
	return s, err == nil, err
}

// generate makes a non-extractable Ed25519 key pair.
func generate(ctx context.Context) (js.Value, error) {
	usages := js.Global().Get("Array").New("sign", "verify")
	var p js.Value
	if err := jsinterop.Try(func() { p = subtle().Call("generateKey", alg(), false, usages) }); err != nil {
		return js.Undefined(), fmt.Errorf("wasm: Ed25519 in WebCrypto: %w", err)
	}
	pair, err := jsinterop.Await(ctx, p)
	if err != nil {
		return js.Undefined(), fmt.Errorf("wasm: Ed25519 in WebCrypto: %w", err)
	}
	o := js.Global().Get("Object").New()
	o.Set("privateKey", pair.Get("privateKey"))
	o.Set("publicKey", pair.Get("publicKey"))
	return o, nil
}

// signerOf exports the public key of a stored pair.
func signerOf(ctx context.Context, pair js.Value) (*webCryptoSigner, error) {
	priv, pub := pair.Get("privateKey"), pair.Get("publicKey")
	if priv.Type() != js.TypeObject || pub.Type() != js.TypeObject {
		return nil, errors.New("wasm: stored identity is not a key pair")
	}
	if priv.Get("extractable").Truthy() {
		return nil, errors.New("wasm: stored identity key is extractable")
	}
	var p js.Value
	if err := jsinterop.Try(func() { p = subtle().Call("exportKey", "raw", pub) }); err != nil {
		return nil, err
	}
	raw, err := jsinterop.Await(ctx, p)
	if err != nil {
		return nil, err
	}
	b := jsinterop.Bytes(nil, raw)
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("wasm: %d-byte public key", len(b))
	}
	return &webCryptoSigner{priv: priv, pub: ed25519.PublicKey(b)}, nil
}

// idbRequest waits for an IDBRequest (or, with complete, an
// IDBTransaction) to succeed or fail. Its handlers only send on a
// buffered channel.
func idbRequest(ctx context.Context, req js.Value, okEvent string) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	send := func(r result) {
		select {
		case ch <- r:
		default:
		}
	}
	ok := js.FuncOf(func(js.Value, []js.Value) any {
		if okEvent == "onsuccess" {
			send(result{v: req.Get("result")})
		} else {
			send(result{})
		}
		return nil
	})
	fail := js.FuncOf(func(js.Value, []js.Value) any {
		msg := "IndexedDB request failed"
		if e := req.Get("error"); e.Type() == js.TypeObject {
			msg = jsinterop.ErrorOf(e).Error()
		}
		send(result{err: errors.New(msg)})
		return nil
	})
	req.Set(okEvent, ok)
	req.Set("onerror", fail)
	if okEvent == "oncomplete" {
		req.Set("onabort", fail)
	}
	select {
	case r := <-ch:
		// Detach before releasing: a transaction whose request failed
		// also fires onabort afterwards.
		for _, ev := range []string{okEvent, "onerror", "onabort"} {
			req.Set(ev, js.Null())
		}
		ok.Release()
		fail.Release()
		return r.v, r.err
	case <-ctx.Done():
		// The handlers stay (never released) so that a late event finds them.
		return js.Undefined(), ctx.Err()
	}
}

func idbOpen(ctx context.Context) (js.Value, error) {
	idb := js.Global().Get("indexedDB")
	if idb.Type() != js.TypeObject {
		return js.Undefined(), errors.New("wasm: no IndexedDB")
	}
	var req js.Value
	if err := jsinterop.Try(func() { req = idb.Call("open", idbName, 1) }); err != nil {
		return js.Undefined(), err
	}
	upgrade := js.FuncOf(func(js.Value, []js.Value) any {
		_ = jsinterop.Try(func() {
			db := req.Get("result")
			if !db.Get("objectStoreNames").Call("contains", idbStore).Bool() {
				db.Call("createObjectStore", idbStore)
			}
		})
		return nil
	})
	req.Set("onupgradeneeded", upgrade)
	db, err := idbRequest(ctx, req, "onsuccess")
	req.Set("onupgradeneeded", js.Null())
	upgrade.Release()
	return db, err
}

func idbGet(ctx context.Context, db js.Value) (js.Value, error) {
	var req js.Value
	if err := jsinterop.Try(func() {
		req = db.Call("transaction", idbStore, "readonly").Call("objectStore", idbStore).Call("get", idbKey)
	}); err != nil {
		return js.Undefined(), err
	}
	return idbRequest(ctx, req, "onsuccess")
}

func idbAdd(ctx context.Context, db js.Value, pair js.Value) error {
	var tx js.Value
	if err := jsinterop.Try(func() {
		tx = db.Call("transaction", idbStore, "readwrite")
		tx.Call("objectStore", idbStore).Call("add", pair, idbKey)
	}); err != nil {
		return err
	}
	_, err := idbRequest(ctx, tx, "oncomplete")
	return err
}
