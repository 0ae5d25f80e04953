package protocol

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// ErrFrameTooLarge is returned by Reader.Next for a line longer than the limit.
var ErrFrameTooLarge = errors.New("protocol: frame too large")

// MarshalJSON encodes the field as an image object or an image id string.
func (f ImageField) MarshalJSON() ([]byte, error) {
	if f.Meta != nil {
		return json.Marshal(f.Meta)
	}
	return json.Marshal(f.ID)
}

// UnmarshalJSON accepts an image object or an image id string.
func (f *ImageField) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &f.ID)
	case len(b) > 0 && b[0] == '{':
		f.Meta = new(ImageMeta)
		return json.Unmarshal(b, f.Meta)
	case bytes.Equal(b, []byte("null")):
		return nil
	}
	return fmt.Errorf("image: want an object or a string")
}

// Encode returns the JSON text of f followed by a line feed. It fails with a
// CodeTooLarge *Error if the JSON text exceeds MaxFrameJSON.
func Encode(f *Frame) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("protocol: encode %s: %w", f.Type, err)
	}
	if buf.Len()-1 > MaxFrameJSON {
		return nil, &Error{Code: CodeTooLarge, Message: fmt.Sprintf("frame of %d bytes is over the %d-byte limit", buf.Len()-1, MaxFrameJSON), ID: f.ID}
	}
	return buf.Bytes(), nil
}

// Decode parses the JSON text of one frame (without its line feed). A frame
// that is not a JSON object with a string type is a protocol error: the
// returned *Error has CodeBadRequest (or CodeTooLarge for an oversized text)
// and the request's id if a valid one could be read. Validation of the id of
// a well-formed frame is left to ValidID, since a bad id is not a protocol error.
func Decode(b []byte) (*Frame, error) {
	if len(b) > MaxFrameJSON {
		return nil, &Error{Code: CodeTooLarge, Message: fmt.Sprintf("frame of %d bytes is over the %d-byte limit", len(b), MaxFrameJSON), ID: peekID(b)}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || raw == nil {
		return nil, &Error{Code: CodeBadRequest, Message: "a frame must be one JSON object", ID: peekID(b)}
	}
	id, idOK := parseID(raw["id"])
	var typ string
	if t, ok := raw["type"]; !ok || json.Unmarshal(t, &typ) != nil {
		e := &Error{Code: CodeBadRequest, Message: "a frame needs a string \"type\""}
		if idOK {
			e.ID = id
		}
		return nil, e
	}
	f := new(Frame)
	// The id is read by parseID (it accepts 2.0 as 2, as JavaScript
	// senders may write it); the shadowing field keeps encoding/json
	// away from Frame.ID.
	aux := struct {
		*Frame
		ID json.RawMessage `json:"id"`
	}{Frame: f}
	if err := json.Unmarshal(b, &aux); err != nil {
		// Well-formed JSON object with a string type but fields of the wrong
		// JSON kind: a bad request, not a protocol error.
		f = &Frame{Type: typ}
		if idOK {
			f.ID = id
		}
		return f, &Error{Code: CodeBadRequest, Message: "bad field: " + fieldError(err), ID: f.ID}
	}
	f.ID = id
	if !idOK {
		f.ID = 0
		if _, present := raw["id"]; present {
			f.ID = -1 // present but invalid: see ValidID
		}
	}
	return f, nil
}

// ValidID reports whether f carries a valid request id (1 to MaxID).
func ValidID(f *Frame) bool { return f.ID >= 1 && f.ID <= MaxID }

func parseID(r json.RawMessage) (int64, bool) {
	r = bytes.TrimSpace(r)
	if len(r) == 0 || r[0] == '"' { // a string is not an id, even "7"
		return 0, false
	}
	var n json.Number
	if err := json.Unmarshal(r, &n); err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(n.String(), 64)
		if ferr != nil || f != math.Trunc(f) || f < 1 || f > MaxID {
			return 0, false
		}
		v = int64(f)
	}
	if v < 1 || v > MaxID {
		return 0, false
	}
	return v, true
}

// peekID recovers an id from text that failed to parse as a whole, if the
// text is at least an object whose id member parses.
func peekID(b []byte) int64 {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return 0
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return 0
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return 0
		}
		if k == "id" {
			if id, ok := parseID(v); ok {
				return id
			}
			return 0
		}
	}
	return 0
}

func fieldError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%q must be %s", te.Field, te.Type.Kind())
	}
	return err.Error()
}

// Reader reads line-delimited frames, enforcing MaxFrame.
type Reader struct {
	br  *bufio.Reader
	buf []byte
}

// readerBuffer is a Reader's read buffer. Every session keeps one for as
// long as it lasts, so it is small: chat frames fit in it, and a longer
// line is gathered from several reads (up to MaxFrame).
const readerBuffer = 4 << 10

// NewReader returns a Reader of frames from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, readerBuffer)}
}

// Next returns the JSON text of the next frame, without its line feed. The
// slice is valid until the next call. A line over MaxFrameJSON bytes yields
// ErrFrameTooLarge together with up to the first MaxFrameJSON+1 bytes (so an
// id can be peeked). At the end of the stream it returns io.EOF; a last line
// without a line feed is io.ErrUnexpectedEOF.
func (r *Reader) Next() ([]byte, error) {
	r.buf = r.buf[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(r.buf)+len(chunk) > MaxFrame {
			room := MaxFrame - len(r.buf)
			if room > 0 && room <= len(chunk) {
				r.buf = append(r.buf, chunk[:room]...)
			}
			return r.buf, ErrFrameTooLarge
		}
		r.buf = append(r.buf, chunk...)
		switch err {
		case nil:
			line := r.buf[:len(r.buf)-1]
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			return line, nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			if len(r.buf) == 0 {
				return nil, io.EOF
			}
			return r.buf, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}
