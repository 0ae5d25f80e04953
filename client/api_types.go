package client

import (
	"time"

	"parley/protocol"
)

// JoinResult is the answer to Join: the room as the server spells it, its
// members, its recent history (oldest first), its latest seq and epoch.
type JoinResult struct {
	Room      string    `json:"room"`
	Members   []string  `json:"members"`
	History   []Message `json:"history"`
	Seq       int64     `json:"seq"`
	Epoch     string    `json:"epoch"`
	Truncated bool      `json:"truncated,omitempty"`
}

// Sent is the acknowledgement of a message: its seq in its conversation
// (0 for a broadcast), its timestamp, and for an image its metadata.
type Sent struct {
	Seq   int64               `json:"seq,omitempty"`
	TS    time.Time           `json:"ts"`
	Image *protocol.ImageMeta `json:"image,omitempty"`
}

// HistoryQuery selects a page of one conversation: Room, or With for a
// private conversation; exactly one of Before and Since (exclusive seqs);
// Limit 1 to protocol.MaxHistory (0: the server's default).
type HistoryQuery struct {
	Room   string
	With   string
	Before *int64
	Since  *int64
	Limit  int
}

// HistoryPage is the answer to History: messages oldest first; Truncated
// when the server shortened the page to fit a frame.
type HistoryPage struct {
	Messages  []Message `json:"messages"`
	Truncated bool      `json:"truncated,omitempty"`
}
