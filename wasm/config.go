//go:build js && wasm

package main

import (
	"context"
	"errors"
	"syscall/js"
)

// await blocks the calling goroutine until p settles or ctx ends. Never
// call it from a js.FuncOf callback.
func await(ctx context.Context, p js.Value) (js.Value, error) {
	if p.Type() != js.TypeObject || p.Get("then").Type() != js.TypeFunction {
		return p, nil
	}
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	arg := func(args []js.Value) js.Value {
		if len(args) > 0 {
			return args[0]
		}
		return js.Undefined()
	}
	ok := js.FuncOf(func(_ js.Value, args []js.Value) any { ch <- result{v: arg(args)}; return nil })
	fail := js.FuncOf(func(_ js.Value, args []js.Value) any { ch <- result{err: jsErr(arg(args))}; return nil })
	release := func() { ok.Release(); fail.Release() }
	p.Call("then", ok, fail)
	select {
	case r := <-ch:
		release()
		return r.v, r.err
	case <-ctx.Done():
		go func() { <-ch; release() }()
		return js.Undefined(), ctx.Err()
	}
}

// jsErr turns a thrown value or rejection reason into an error.
func jsErr(v js.Value) error {
	if v.Type() == js.TypeObject {
		name, msg := v.Get("name"), v.Get("message")
		if msg.Type() == js.TypeString {
			if name.Type() == js.TypeString {
				return errors.New(name.String() + ": " + msg.String())
			}
			return errors.New(msg.String())
		}
	}
	if v.IsUndefined() || v.IsNull() {
		return errors.New("rejected")
	}
	return errors.New(v.String())
}

// try runs f, turning a JavaScript exception into an error.
func try(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			je, ok := r.(js.Error)
			if !ok {
				panic(r)
			}
			err = jsErr(je.Value)
		}
	}()
	f()
	return nil
}

// bytesOf copies an ArrayBuffer or typed array into a new slice.
func bytesOf(v js.Value) []byte {
	u8 := js.Global().Get("Uint8Array")
	if !v.InstanceOf(u8) {
		v = u8.New(v)
	}
	b := make([]byte, v.Get("byteLength").Int())
	js.CopyBytesToGo(b, v)
	return b
}

// uint8Array copies b into a new Uint8Array.
func uint8Array(b []byte) js.Value {
	u := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(u, b)
	return u
}

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
	if err := try(func() { p = f.Invoke("/config.json", opts) }); err != nil {
		return js.Undefined(), err
	}
	res, err := await(ctx, p)
	if err != nil {
		return js.Undefined(), err
	}
	if !res.Get("ok").Truthy() {
		return js.Undefined(), errors.New("config.json: " + res.Get("status").String())
	}
	return await(ctx, res.Call("json"))
}
