package protocol

import (
	"errors"
	"fmt"
)

// Code is an error code carried by an err frame. Clients branch on the code
// and show the message.
type Code string

// Error codes, PROTOCOL.md section 9.
const (
	CodeBadRequest         Code = "bad_request"         // malformed or invalid request
	CodeUnsupportedVersion Code = "unsupported_version" // hello with a missing or unknown v
	CodeHelloRequired      Code = "hello_required"      // request before hello (and auth) completed
	CodeUnauthorized       Code = "unauthorized"        // wrong or malformed signature
	CodeBadName            Code = "bad_name"            // user name fails the name rules
	CodeNameTaken          Code = "name_taken"          // name in use or bound to another key
	CodeBadRoom            Code = "bad_room"            // room name fails the room rules
	CodeNotMember          Code = "not_member"          // the session is not in that room
	CodeNoSuchUser         Code = "no_such_user"        // recipient unknown or not in the room
	CodeTooLarge           Code = "too_large"           // text, frame or image over its limit
	CodeBadImage           Code = "bad_image"           // bytes are not an accepted image
	CodeNotFound           Code = "not_found"           // no such image, or not allowed to see it
	CodeRateLimited        Code = "rate_limited"        // too many requests; try later
	CodeInternal           Code = "internal"            // the server failed; nothing was done
)

// CodeTooMany is an extension (docs/protocol.md section 9 lists the codes
// of PROTOCOL.md; the extension is documented after it): a capacity limit
// was reached — the user holds as many sessions as the server allows, or
// the session is in as many rooms as it may be. Nothing was done; the
// session stays open.
const CodeTooMany Code = "too_many"

// CloseCode is a session close code: the WebTransport session error code,
// or the WebSocket close code.
type CloseCode uint32

// Session close codes, PROTOCOL.md section 9.
const (
	CloseProtocolError CloseCode = 4000 // a protocol error by the peer
	CloseTooSlow       CloseCode = 4001 // the member's outbound queue filled
	CloseShutdown      CloseCode = 4002 // the server is shutting down; reconnect
	CloseHelloTimeout  CloseCode = 4003 // no hello (and auth) within HelloTimeout
	CloseRemoved       CloseCode = 4004 // removed by the server operator
	CloseRateLimit     CloseCode = 4005 // rate limit exceeded persistently
)

// String names the close code for logs and metrics.
func (c CloseCode) String() string {
	switch c {
	case CloseProtocolError:
		return "protocol_error"
	case CloseTooSlow:
		return "too_slow"
	case CloseShutdown:
		return "shutdown"
	case CloseHelloTimeout:
		return "hello_timeout"
	case CloseRemoved:
		return "removed"
	case CloseRateLimit:
		return "rate_limit"
	}
	return fmt.Sprintf("close_%d", uint32(c))
}

// Error is a protocol error: what an err frame carries. ID is the id of the
// request it answers, or 0 when none could be read.
type Error struct {
	Code    Code
	Message string
	ID      int64
}

// Errorf makes an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error returns "code: message".
func (e *Error) Error() string {
	return string(e.Code) + ": " + e.Message
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, &protocol.Error{Code: protocol.CodeNameTaken}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Frame returns the err frame that carries e.
func (e *Error) Frame() *Frame {
	return &Frame{Type: TypeErr, ID: e.ID, Code: e.Code, Message: e.Message}
}

// CodeOf returns the protocol code of err, or "" if err carries none.
func CodeOf(err error) Code {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// CloseError reports that a session was closed with a code.
type CloseError struct {
	Code   CloseCode
	Reason string
}

// Error returns the close code, its name and the reason.
func (e *CloseError) Error() string {
	return fmt.Sprintf("session closed: %d %s: %s", uint32(e.Code), e.Code, e.Reason)
}
