package protocol

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	_ "image/gif"  // register GIF headers
	_ "image/jpeg" // register JPEG headers
	_ "image/png"  // register PNG headers
	"io"

	_ "golang.org/x/image/webp" // register WebP headers
)

// Image MIME types that Parley accepts.
var mimeByFormat = map[string]string{
	"png":  "image/png",
	"jpeg": "image/jpeg",
	"gif":  "image/gif",
	"webp": "image/webp",
}

// SniffHeader is how many leading bytes SniffImage needs at most for the
// formats it accepts (JPEG's SOF may come after large metadata segments, so
// it is generous).
const SniffHeader = 256 << 10

// SniffImage reads an image header from the first bytes of a file and
// returns its MIME type and dimensions without decoding pixels. An unknown
// signature or unparsable header is CodeBadImage; a width × height over
// MaxPixels is CodeTooLarge.
func SniffImage(head []byte) (mime string, w, h int, err error) {
	cfg, format, err := image.DecodeConfig(bufio.NewReader(io.LimitReader(bytes.NewReader(head), SniffHeader)))
	if err != nil {
		return "", 0, 0, Errorf(CodeBadImage, "not a PNG, JPEG, GIF or WebP image")
	}
	mime, ok := mimeByFormat[format]
	if !ok {
		return "", 0, 0, Errorf(CodeBadImage, "image format %s is not accepted", format)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return "", 0, 0, Errorf(CodeBadImage, "image has no pixels")
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return "", 0, 0, &Error{Code: CodeTooLarge, Message: fmt.Sprintf("image is %d×%d pixels; the limit is %d pixels", cfg.Width, cfg.Height, MaxPixels)}
	}
	return mime, cfg.Width, cfg.Height, nil
}
