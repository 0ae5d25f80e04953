package protocol

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// CleanName checks a user name and returns it in NFC, the way it is shown.
// Names are 1–MaxNameLen code points, without control or format characters
// and without leading or trailing white space. It fails with CodeBadName.
func CleanName(s string) (string, error) {
	n, err := clean(s, MaxNameLen, "name")
	if err != nil {
		return "", &Error{Code: CodeBadName, Message: err.Error()}
	}
	return n, nil
}

// CleanRoom checks a room name as CleanName does a user name, with
// MaxRoomLen. It fails with CodeBadRoom.
func CleanRoom(s string) (string, error) {
	n, err := clean(s, MaxRoomLen, "room name")
	if err != nil {
		return "", &Error{Code: CodeBadRoom, Message: err.Error()}
	}
	return n, nil
}

func clean(s string, max int, what string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%s is not valid UTF-8", what)
	}
	s = norm.NFC.String(s)
	n := utf8.RuneCountInString(s)
	if n == 0 {
		return "", fmt.Errorf("%s is empty", what)
	}
	if n > max {
		return "", fmt.Errorf("%s is %d characters long; the limit is %d", what, n, max)
	}
	for _, r := range s {
		if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) {
			return "", fmt.Errorf("%s contains the control or format character %U", what, r)
		}
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.Is(unicode.White_Space, first) || unicode.Is(unicode.White_Space, last) {
		return "", fmt.Errorf("%s starts or ends with white space", what)
	}
	return s, nil
}

var folder = cases.Fold()

// Fold returns the comparison key of a cleaned name or room: its full
// Unicode case folding, in NFC. Two names are the same when their keys are.
func Fold(s string) string {
	return norm.NFC.String(folder.String(s))
}

// CheckText checks a message text against the limit in code points. Blank
// text is CodeBadRequest; text over the limit is CodeTooLarge.
func CheckText(s string, limit int) error {
	if !utf8.ValidString(s) {
		return Errorf(CodeBadRequest, "text is not valid UTF-8")
	}
	if strings.TrimFunc(s, func(r rune) bool { return unicode.Is(unicode.White_Space, r) }) == "" {
		return Errorf(CodeBadRequest, "text is empty")
	}
	if n := utf8.RuneCountInString(s); n > limit {
		return Errorf(CodeTooLarge, "text is %d characters long; the limit is %d", n, limit)
	}
	return nil
}

// CheckNonce checks a nonce that is present: 1–MaxNonceLen code points.
func CheckNonce(s string) error {
	n := utf8.RuneCountInString(s)
	if n == 0 || n > MaxNonceLen {
		return Errorf(CodeBadRequest, "nonce must be 1 to %d characters, not %d", MaxNonceLen, n)
	}
	return nil
}

// CheckImageName checks an image file name: at most MaxImageNameLen bytes of UTF-8.
func CheckImageName(s string) error {
	if !utf8.ValidString(s) {
		return Errorf(CodeBadRequest, "image name is not valid UTF-8")
	}
	if len(s) > MaxImageNameLen {
		return Errorf(CodeBadRequest, "image name is %d bytes long; the limit is %d", len(s), MaxImageNameLen)
	}
	return nil
}
