//go:build js && wasm

package jsinterop

import (
	"bytes"
	"context"
	"errors"
	"syscall/js"
	"testing"
)

// eval runs a JavaScript expression (test fixtures only).
func eval(src string) js.Value { return js.Global().Call("eval", src) }

// asError returns err as an *Error, failing the test if it is not one.
func asError(t *testing.T, err error) *Error {
	t.Helper()
	var je *Error
	if !errors.As(err, &je) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	return je
}

func TestAwaitResolves(t *testing.T) {
	v, err := Await(context.Background(), eval("Promise.resolve(42)"))
	if err != nil || v.Int() != 42 {
		t.Fatalf("Await = %v, %v; want 42, nil", v, err)
	}
}

func TestAwaitRejects(t *testing.T) {
	_, err := Await(context.Background(), eval(`Promise.reject(new TypeError("bad input"))`))
	je := asError(t, err)
	if je.Name != "TypeError" || je.Message != "bad input" || err.Error() != "TypeError: bad input" {
		t.Fatalf("rejection became %+v (%q)", je, err)
	}
}

// A promise that settles only after Await started waiting (resolved from
// another goroutine) is awaited.
func TestAwaitSettlesLater(t *testing.T) {
	var resolve js.Value
	executor := js.FuncOf(func(_ js.Value, args []js.Value) any { resolve = args[0]; return nil })
	defer executor.Release()
	p := js.Global().Get("Promise").New(executor)
	go resolve.Invoke("later")
	v, err := Await(context.Background(), p)
	if err != nil || v.String() != "later" {
		t.Fatalf("Await = %v, %v; want later, nil", v, err)
	}
}

func TestAwaitNotAPromise(t *testing.T) {
	for _, in := range []js.Value{js.ValueOf(7), js.Undefined(), eval("({then: 1})")} {
		v, err := Await(context.Background(), in)
		if err != nil || !v.Equal(in) {
			t.Fatalf("Await(%v) = %v, %v; want the value itself", in, v, err)
		}
	}
}

// A context that ends returns its error while the promise is pending; the
// promise settling afterwards is harmless.
func TestAwaitContextEnds(t *testing.T) {
	var resolve js.Value
	executor := js.FuncOf(func(_ js.Value, args []js.Value) any { resolve = args[0]; return nil })
	defer executor.Release()
	p := js.Global().Get("Promise").New(executor)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Await(ctx, p); !errors.Is(err, context.Canceled) {
		t.Fatalf("Await with an ended context: %v, want context.Canceled", err)
	}
	resolve.Invoke("after")
	if v, err := Await(context.Background(), p); err != nil || v.String() != "after" {
		t.Fatalf("the promise still resolves for others: %v, %v", v, err)
	}
}

func TestTry(t *testing.T) {
	if err := Try(func() {}); err != nil {
		t.Fatalf("Try of nothing thrown: %v", err)
	}
	err := Try(func() { js.Global().Get("JSON").Call("parse", "{") })
	if je := asError(t, err); je.Name != "SyntaxError" || je.Message == "" {
		t.Fatalf("JSON.parse exception became %+v", je)
	}
}

func TestTryLetsGoPanicsThrough(t *testing.T) {
	defer func() {
		if r := recover(); r != "go panic" {
			t.Fatalf("recovered %v, want the Go panic", r)
		}
	}()
	_ = Try(func() { panic("go panic") })
	t.Fatal("Try swallowed a Go panic")
}

func TestErrorOf(t *testing.T) {
	for _, tc := range []struct {
		in   js.Value
		want string
	}{
		{js.Undefined(), "Error: rejected without a reason"},
		{js.Null(), "Error: rejected without a reason"},
		{js.ValueOf("plain string"), "Error: plain string"},
		{js.ValueOf(3), "Error: 3"},
		{eval(`({message: "no name"})`), "Error: no name"},
		{eval(`new RangeError("out")`), "RangeError: out"},
		{eval(`({name: "WebTransportError", message: "gone", source: "session"})`), "WebTransportError (session): gone"},
	} {
		err := ErrorOf(tc.in)
		asError(t, err)
		if err.Error() != tc.want {
			t.Errorf("ErrorOf(%v) = %q, want %q", tc.in, err, tc.want)
		}
	}
}

func TestString(t *testing.T) {
	if got := String(js.ValueOf("s")); got != "s" {
		t.Fatalf("String of a string = %q", got)
	}
	for _, v := range []js.Value{js.ValueOf(1), js.Undefined(), js.Null(), eval("({})")} {
		if got := String(v); got != "" {
			t.Fatalf("String(%v) = %q, want empty", v, got)
		}
	}
}

func TestBytesRoundTrip(t *testing.T) {
	in := []byte{0, 1, 2, 0xfe, 0xff}
	u := Uint8Array(in)
	if !u.InstanceOf(js.Global().Get("Uint8Array")) || u.Get("length").Int() != len(in) {
		t.Fatalf("Uint8Array gave %v", u)
	}
	if got := Bytes(nil, u); !bytes.Equal(got, in) {
		t.Fatalf("Bytes(Uint8Array) = %v, want %v", got, in)
	}
	if got := Bytes(nil, u.Get("buffer")); !bytes.Equal(got, in) {
		t.Fatalf("Bytes(ArrayBuffer) = %v, want %v", got, in)
	}
	if got := Bytes(nil, Uint8Array(nil)); len(got) != 0 {
		t.Fatalf("Bytes of an empty array = %v", got)
	}
}

// Bytes reuses dst when it is large enough and grows it when not.
func TestBytesReusesDst(t *testing.T) {
	dst := make([]byte, 2, 16)
	got := Bytes(dst, Uint8Array([]byte("abc")))
	if string(got) != "abc" || &got[0] != &dst[:1][0] {
		t.Fatalf("Bytes into a roomy dst = %q (same array: %v)", got, &got[0] == &dst[:1][0])
	}
	small := make([]byte, 0, 1)
	if got := Bytes(small, Uint8Array([]byte("abcdef"))); string(got) != "abcdef" {
		t.Fatalf("Bytes into a small dst = %q", got)
	}
}

// A rejected promise marked with IgnoreRejection does not crash the
// program as an unhandled rejection (Node ends the process on one) once
// the event loop has run; non-promises are ignored.
func TestIgnoreRejection(t *testing.T) {
	IgnoreRejection(eval(`Promise.reject(new Error("seen elsewhere"))`))
	IgnoreRejection(js.Undefined())
	IgnoreRejection(js.ValueOf(1))
	if _, err := Await(context.Background(), eval("new Promise(r => setTimeout(r, 0))")); err != nil {
		t.Fatal(err)
	}
}
