//go:build js && wasm

package main

import (
	"context"
	"errors"
	"syscall/js"

	"parley/internal/jsinterop"
)

// fetchCertHash reads the current certificate hash from /config.json.
func fetchCertHash(ctx context.Context) (string, error) {
	cfg, err := fetchConfig(ctx)
	if err != nil {
		return "", err
	}
	if h := cfg.Get("certHash"); h.Type() == js.TypeString {
		return h.String(), nil
	}
	return "", nil
}

// fetchConfig reads /config.json, what the server tells its page.
func fetchConfig(ctx context.Context) (js.Value, error) {
	f := js.Global().Get("fetch")
	if f.Type() != js.TypeFunction {
		return js.Undefined(), errors.New("no fetch")
	}
	opts := js.Global().Get("Object").New()
	opts.Set("cache", "no-store")
	var p js.Value
	if err := jsinterop.Try(func() { p = f.Invoke("/config.json", opts) }); err != nil {
		return js.Undefined(), err
	}
	res, err := jsinterop.Await(ctx, p)
	if err != nil {
		return js.Undefined(), err
	}
	if !res.Get("ok").Truthy() {
		return js.Undefined(), errors.New("config.json: " + res.Get("status").String())
	}
	return jsinterop.Await(ctx, res.Call("json"))
}
