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

// The identity key's place in IndexedDB (idb.go), and how long a
// signature may take.
const (
	idbIdentityKey = "identity"
	signWithin     = 10 * time.Second
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

func idbGet(ctx context.Context, db js.Value) (js.Value, error) {
	var req js.Value
	if err := jsinterop.Try(func() {
		req = db.Call("transaction", idbKeys, "readonly").Call("objectStore", idbKeys).Call("get", idbIdentityKey)
	}); err != nil {
		return js.Undefined(), err
	}
	return idbRequest(ctx, req, "onsuccess")
}

func idbAdd(ctx context.Context, db js.Value, pair js.Value) error {
	var tx js.Value
	if err := jsinterop.Try(func() {
		tx = db.Call("transaction", idbKeys, "readwrite")
		tx.Call("objectStore", idbKeys).Call("add", pair, idbIdentityKey)
	}); err != nil {
		return err
	}
	_, err := idbRequest(ctx, tx, "oncomplete")
	return err
}
