package protocol

import "time"

// Version is the protocol version this package implements.
const Version = 1

// Limits fixed by the protocol.
const (
	// MaxFrame is limits.frame: a frame's JSON text plus its line feed fit in it.
	MaxFrame = 65536
	// MaxFrameJSON is the largest JSON text of one frame, in bytes.
	MaxFrameJSON = MaxFrame - 1
	// MaxNameLen is the longest user name, in code points after NFC.
	MaxNameLen = 32
	// MaxRoomLen is the longest room name, in code points after NFC.
	MaxRoomLen = 64
	// MaxNonceLen is the longest nonce, in code points.
	MaxNonceLen = 64
	// MaxImageNameLen is the longest image file name, in bytes of UTF-8.
	MaxImageNameLen = 255
	// MaxPixels is the largest width × height an image header may declare.
	MaxPixels = 40_000_000
	// DefaultHistory is the number of messages a join or history returns by default.
	DefaultHistory = 50
	// MaxHistory is the largest limit a join or history may ask for.
	MaxHistory = 100
	// MaxID is the largest request id (2^53−1, exact in a JavaScript number).
	MaxID = 1<<53 - 1
	// HelloTimeout is how long a session may take to complete hello (and auth).
	HelloTimeout = 10 * time.Second
	// ChallengeSize is the number of random bytes in an auth challenge.
	ChallengeSize = 32
)

// Defaults for the server-configurable limits.
const (
	// DefaultMaxText is the default limits.text, in code points.
	DefaultMaxText = 4000
	// DefaultMaxImage is the default limits.image, in bytes.
	DefaultMaxImage = 10 << 20
)

// Limits is what a server announces in its hello answer.
type Limits struct {
	Text  int   `json:"text"`
	Image int64 `json:"image"`
	Frame int   `json:"frame"`
}

// DefaultLimits returns the limits a server uses when none are configured.
func DefaultLimits() Limits {
	return Limits{Text: DefaultMaxText, Image: DefaultMaxImage, Frame: MaxFrame}
}
