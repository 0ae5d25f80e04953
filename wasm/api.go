//go:build js && wasm

package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"syscall/js"

	"parley/bridge"
	"parley/internal/jsinterop"
	"parley/protocol"
)

// maxArgsJSON bounds the JSON text of one call's arguments (an image of
// bridge's largest size in base64, with room to spare).
const maxArgsJSON = 16 << 20 * 4 / 3

// api exports the bridge's UI methods to JavaScript.
type api struct {
	target     any
	methods    map[string]reflect.Value
	ev         *events
	id         *webCryptoSigner
	persistent bool
	funcs      []js.Func // live for the page's life
}

func newAPI(target any, ev *events, id *webCryptoSigner, persistent bool) *api {
	a := &api{target: target, methods: map[string]reflect.Value{}, ev: ev, id: id, persistent: persistent}
	v := reflect.ValueOf(target)
	for _, m := range bridge.Methods {
		if mv := v.MethodByName(m.Name); mv.IsValid() && validShape(mv.Type()) {
			a.methods[m.Name] = mv
		}
	}
	return a
}

// validShape accepts func(args...) (T, error).
func validShape(t reflect.Type) bool {
	return t.NumOut() == 2 && t.Out(1) == reflect.TypeFor[error]()
}

// call runs method with its positional arguments as a JSON array and
// returns the result's JSON text. Errors carry a protocol code.
func (a *api) call(method, argsJSON string) (string, error) {
	m, ok := a.methods[method]
	if !ok {
		return "", protocol.Errorf(protocol.CodeBadRequest, "no method %q", truncate(method, 40))
	}
	if len(argsJSON) > maxArgsJSON {
		return "", protocol.Errorf(protocol.CodeTooLarge, "the arguments of %s are too large", method)
	}
	var raw []json.RawMessage
	if argsJSON != "" {
		if err := json.Unmarshal([]byte(argsJSON), &raw); err != nil {
			return "", protocol.Errorf(protocol.CodeBadRequest, "the arguments of %s must be a JSON array", method)
		}
	}
	t := m.Type()
	if len(raw) != t.NumIn() {
		return "", protocol.Errorf(protocol.CodeBadRequest, "%s takes %d arguments, not %d", method, t.NumIn(), len(raw))
	}
	in := make([]reflect.Value, len(raw))
	for i, r := range raw {
		p := reflect.New(t.In(i))
		if err := json.Unmarshal(r, p.Interface()); err != nil {
			return "", protocol.Errorf(protocol.CodeBadRequest, "argument %d of %s: %v", i+1, method, err)
		}
		in[i] = p.Elem()
	}
	out := m.Call(in)
	if err, _ := out[1].Interface().(error); err != nil {
		return "", err
	}
	b, err := json.Marshal(out[0].Interface())
	if err != nil {
		return "", protocol.Errorf(protocol.CodeInternal, "result of %s: %v", method, err)
	}
	return string(b), nil
}

// export builds the JavaScript object of the API.
func (a *api) export() js.Value {
	o := js.Global().Get("Object").New()
	a.set(o, "call", func(args []js.Value) js.Value {
		method, argsJSON := str(args, 0), str(args, 1)
		return a.promise(func() (js.Value, error) {
			s, err := a.call(method, argsJSON)
			return js.ValueOf(s), err
		})
	})
	a.set(o, "onEvents", func(args []js.Value) js.Value {
		if len(args) == 0 || args[0].Type() != js.TypeFunction {
			return js.Undefined()
		}
		return a.ev.subscribe(args[0])
	})
	a.set(o, "identity", func([]js.Value) js.Value {
		return a.promise(func() (js.Value, error) {
			if a.id == nil {
				return js.Null(), nil
			}
			r := js.Global().Get("Object").New()
			r.Set("key", base64.RawURLEncoding.EncodeToString(a.id.pub))
			r.Set("persistent", a.persistent)
			return r, nil
		})
	})
	for _, m := range bridge.Methods {
		name := m.Name
		if _, ok := a.methods[name]; !ok {
			continue
		}
		a.set(o, name, func(args []js.Value) js.Value {
			arr := js.Global().Get("Array").New()
			for _, v := range args {
				arr.Call("push", v)
			}
			var argsJSON string
			if err := jsinterop.Try(func() { argsJSON = js.Global().Get("JSON").Call("stringify", arr).String() }); err != nil {
				return rejected(protocol.Errorf(protocol.CodeBadRequest, "arguments of %s: %v", name, err))
			}
			return a.promise(func() (js.Value, error) {
				s, err := a.call(name, argsJSON)
				if err != nil {
					return js.Undefined(), err
				}
				return js.Global().Get("JSON").Call("parse", s), nil
			})
		})
	}
	return o
}

func (a *api) set(o js.Value, name string, f func(args []js.Value) js.Value) {
	fn := js.FuncOf(func(_ js.Value, args []js.Value) any { return f(args) })
	a.funcs = append(a.funcs, fn)
	o.Set(name, fn)
}

// promise returns a Promise settled by work, which runs in a new
// goroutine: the callback that created the promise returns at once.
func (a *api) promise(work func() (js.Value, error)) js.Value {
	var exec js.Func
	exec = js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve, reject := args[0], args[1]
		go func() {
			v, err := safely(work)
			if err != nil {
				reject.Invoke(js.Global().Get("Error").New(err.Error()))
				return
			}
			resolve.Invoke(v)
		}()
		return nil
	})
	p := js.Global().Get("Promise").New(exec)
	exec.Release() // the executor has run
	return p
}

// safely runs work, turning a panic into an internal error so that one
// bad call cannot take the page's client down.
func safely(work func() (js.Value, error)) (v js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = js.Undefined(), protocol.Errorf(protocol.CodeInternal, "%v", r)
		}
	}()
	return work()
}

func rejected(err error) js.Value {
	return js.Global().Get("Promise").Call("reject", js.Global().Get("Error").New(err.Error()))
}

func str(args []js.Value, i int) string {
	if i < len(args) && args[i].Type() == js.TypeString {
		return args[i].String()
	}
	return ""
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// events fans event batches out to the page's callbacks.
type events struct {
	mu   sync.Mutex
	next int
	cbs  map[int]js.Value
}

func newEvents() *events { return &events{cbs: map[int]js.Value{}} }

// emit is bridge.Options.Emit: it runs on the bridge's emitter goroutine.
func (e *events) emit(name string, data any) {
	if name != bridge.EventName {
		return
	}
	b, err := json.Marshal(data)
	if err != nil {
		return
	}
	e.mu.Lock()
	cbs := make([]js.Value, 0, len(e.cbs))
	for _, cb := range e.cbs {
		cbs = append(cbs, cb)
	}
	e.mu.Unlock()
	s := string(b)
	for _, cb := range cbs {
		// A throwing callback must not stop the others, nor Go.
		if err := jsinterop.Try(func() { cb.Invoke(s) }); err != nil {
			js.Global().Get("console").Call("error", fmt.Sprintf("parley: event callback: %v", err))
		}
	}
}

// subscribe registers cb and returns a function that unregisters it.
func (e *events) subscribe(cb js.Value) js.Value {
	e.mu.Lock()
	id := e.next
	e.next++
	e.cbs[id] = cb
	e.mu.Unlock()
	// Never released: calling a released function would crash the
	// module, and a page subscribes a handful of times at most.
	off := js.FuncOf(func(js.Value, []js.Value) any {
		e.mu.Lock()
		delete(e.cbs, id)
		e.mu.Unlock()
		return nil
	})
	return off.Value
}
