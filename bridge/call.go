package bridge

import (
	"bytes"
	"encoding/json"
	"reflect"

	"parley/protocol"
)

// MaxCallArgs bounds the JSON text of one Call's arguments (an image sent
// as base64 is the largest legitimate one).
const MaxCallArgs = 16 << 20

// Call invokes the UI-callable method named method (one of Methods) with
// its positional arguments given as a JSON array, and returns the JSON
// text of its result. It is how a shell without reflection-based binding
// (the browser's WebAssembly exports) exposes the whole API.
func (b *Bridge) Call(method string, args []byte) ([]byte, error) {
	if !callable(method) {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "no method %q", truncate(method, 40))
	}
	if len(args) > MaxCallArgs {
		return nil, protocol.Errorf(protocol.CodeTooLarge, "arguments too large")
	}
	m := reflect.ValueOf(b).MethodByName(method)
	t := m.Type()
	var raw []json.RawMessage
	if len(bytes.TrimSpace(args)) > 0 {
		if err := json.Unmarshal(args, &raw); err != nil {
			return nil, protocol.Errorf(protocol.CodeBadRequest, "arguments must be a JSON array")
		}
	}
	if len(raw) != t.NumIn() {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "%s takes %d arguments, not %d", method, t.NumIn(), len(raw))
	}
	in := make([]reflect.Value, t.NumIn())
	for i := range in {
		p := reflect.New(t.In(i))
		if err := json.Unmarshal(raw[i], p.Interface()); err != nil {
			return nil, protocol.Errorf(protocol.CodeBadRequest, "argument %d of %s: %v", i+1, method, err)
		}
		in[i] = p.Elem()
	}
	out := m.Call(in)
	if err, _ := out[1].Interface().(error); err != nil {
		return nil, err
	}
	return json.Marshal(out[0].Interface())
}

func callable(method string) bool {
	for _, mi := range Methods {
		if mi.Name == method {
			return true
		}
	}
	return false
}
