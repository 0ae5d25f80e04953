//go:build js && wasm

package jsinterop

import (
	"context"
	"fmt"
	"syscall/js"
)

// Error is an exception thrown by JavaScript or the reason a promise was
// rejected.
type Error struct {
	// Name is the error's name, e.g. "TypeError" or "WebTransportError";
	// "Error" when the value had none.
	Name string
	// Message is the error's message.
	Message string
	// Source is WebTransportError.source ("stream" or "session"), if any.
	Source string
}

// Error returns "Name: Message", with the Source in parentheses after the
// name when there is one.
func (e *Error) Error() string {
	if e.Source != "" {
		return fmt.Sprintf("%s (%s): %s", e.Name, e.Source, e.Message)
	}
	return e.Name + ": " + e.Message
}

// ErrorOf converts a thrown value or a rejection reason to an *Error
// (returned as an error, never nil). A value that is not an object
// becomes the message of an "Error".
func ErrorOf(v js.Value) error {
	if v.IsUndefined() || v.IsNull() {
		return &Error{Name: "Error", Message: "rejected without a reason"}
	}
	if v.Type() != js.TypeObject {
		return &Error{Name: "Error", Message: js.Global().Call("String", v).String()}
	}
	e := &Error{Name: String(v.Get("name")), Message: String(v.Get("message")), Source: String(v.Get("source"))}
	if e.Name == "" {
		e.Name = "Error"
	}
	return e
}

// String returns v as a Go string if it is a JavaScript string, else "".
func String(v js.Value) string {
	if v.Type() == js.TypeString {
		return v.String()
	}
	return ""
}

// Try runs f and returns the JavaScript exception thrown inside it (which
// syscall/js raises as a panic of js.Error) as an *Error. Other panics
// propagate.
func Try(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			je, ok := r.(js.Error)
			if !ok {
				panic(r)
			}
			err = ErrorOf(je.Value)
		}
	}()
	f()
	return nil
}

// Await blocks the calling goroutine until the promise p settles or ctx
// ends, and returns its value or its rejection as an *Error (or ctx.Err()).
// A p that is not a promise (no then method) is returned as it is. Await
// must not be called from inside a js.FuncOf callback.
func Await(ctx context.Context, p js.Value) (js.Value, error) {
	if p.Type() != js.TypeObject || p.Get("then").Type() != js.TypeFunction {
		return p, nil
	}
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1) // the callbacks never block
	onOK := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{v: first(args)}
		return nil
	})
	onErr := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{err: ErrorOf(first(args))}
		return nil
	})
	release := func() { onOK.Release(); onErr.Release() }
	p.Call("then", onOK, onErr)
	select {
	case r := <-ch:
		release()
		return r.v, r.err
	case <-ctx.Done():
		// The functions stay referenced by the promise until it settles.
		go func() { <-ch; release() }()
		return js.Undefined(), ctx.Err()
	}
}

// first returns a callback's first argument, or undefined.
func first(args []js.Value) js.Value {
	if len(args) > 0 {
		return args[0]
	}
	return js.Undefined()
}

// IgnoreRejection marks the promise p as handled, so that a rejection the
// caller learns about elsewhere (a writer's ready, a stream's closed) is
// not reported as unhandled. A p that is not a promise is ignored.
func IgnoreRejection(p js.Value) {
	if p.Type() == js.TypeObject && p.Get("catch").Type() == js.TypeFunction {
		p.Call("catch", noop)
	}
}

// noop is a callback that does nothing; it lives as long as the program.
var noop = js.FuncOf(func(js.Value, []js.Value) any { return nil })

// Uint8Array copies b into a new JavaScript Uint8Array.
func Uint8Array(b []byte) js.Value {
	u := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(u, b)
	return u
}

// Bytes copies the bytes of v, a Uint8Array or an ArrayBuffer, into dst
// (grown when too small; nil for a new slice) and returns them.
func Bytes(dst []byte, v js.Value) []byte {
	u8 := js.Global().Get("Uint8Array")
	if !v.InstanceOf(u8) {
		v = u8.New(v)
	}
	n := v.Get("byteLength").Int()
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	js.CopyBytesToGo(dst, v)
	return dst
}
