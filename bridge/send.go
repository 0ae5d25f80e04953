package bridge

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"time"
	"unicode"

	"parley/client"
	"parley/protocol"
)

// ParseMention splits a room line "@name text" into the member it goes to
// and the text. The longest member name that follows the @ (compared
// after case folding) and is followed by white space wins; with no such
// member, the first word after @ is taken as the name. ok is false for a
// line that does not start with @name and some text.
func ParseMention(line string, members []string) (to, text string, ok bool) {
	if !strings.HasPrefix(line, "@") {
		return "", "", false
	}
	body := []rune(line[1:])
	for _, m := range members {
		n := len([]rune(m))
		if n == 0 || n >= len(body) || n <= len([]rune(to)) {
			continue
		}
		if !unicode.IsSpace(body[n]) || protocol.Fold(string(body[:n])) != protocol.Fold(m) {
			continue
		}
		to, text = m, string(body[n+1:])
	}
	if to == "" {
		i := strings.IndexFunc(line, unicode.IsSpace)
		if i <= 1 {
			return "", "", false
		}
		to, text = line[1:i], line[i+1:]
	}
	text = strings.TrimLeftFunc(text, unicode.IsSpace)
	if strings.TrimSpace(text) == "" {
		return "", "", false
	}
	return to, text, true
}

// Send sends text typed into a conversation. It returns at once with the
// message marked pending; an "ack" or "failed" event follows. While the
// connection is down the message waits and goes out once, on reconnect.
// In a room, "@name text" goes privately to name and the returned
// message belongs to the private chat.
func (b *Bridge) Send(req SendRequest) (Message, error) {
	cl, cctx, _, err := b.live()
	if err != nil {
		return Message{}, err
	}
	c, err := b.lookup(req.Conv, "")
	if err != nil {
		return Message{}, err
	}
	limit := cl.ServerInfo().Limits.Text
	if limit <= 0 {
		limit = protocol.DefaultMaxText
	}
	text := req.Text
	if err := protocol.CheckText(text, limit); err != nil {
		return Message{}, err
	}
	room, to := c.name, ""
	convID := c.id
	if c.kind == KindRoom {
		if t, rest, ok := ParseMention(text, c.members); ok {
			if protocol.Fold(t) == protocol.Fold(cl.Name()) {
				return Message{}, protocol.Errorf(protocol.CodeBadRequest, "you cannot send a private message to yourself")
			}
			to, text = t, rest
			convID = b.ensurePrivate(t, room)
		}
	} else {
		to = c.name
		if room, err = b.sharedRoom(c); err != nil {
			return Message{}, err
		}
	}
	m := Message{Conv: convID, Kind: MsgText, From: cl.Name(), To: to, Room: room, Text: text, Mine: true, Pending: true, Local: b.newLocal(), TS: protocol.FormatTime(time.Now())}
	if hc := b.cache.Load(); hc != nil {
		hc.sent(m) // cached once its ack gives it a seq
	}
	b.spawn(func() {
		var sent client.Sent
		var err error
		if to == "" {
			sent, err = cl.Say(cctx, room, text)
		} else {
			sent, err = cl.SayTo(cctx, room, to, text)
		}
		b.settle(convID, m.Local, sent, err)
	})
	b.touchSeq(convID, 0)
	return m, nil
}

// ensurePrivate opens the private chat with user (if it is not open) and
// returns its id.
func (b *Bridge) ensurePrivate(user, via string) string {
	id := privateID(user)
	b.mu.Lock()
	c := b.convs[id]
	created := c == nil
	if created {
		c = &conv{id: id, kind: KindPrivate, name: user}
		b.convs[id] = c
		b.notePrivateLocked(user, true)
	}
	c.via = via
	v := c.view()
	b.mu.Unlock()
	if created {
		b.em.push(Event{Kind: EvConversation, Conv: id, Conversation: &v})
		b.remember()
	}
	return id
}

// sharedRoom picks the room a private message goes through: the protocol
// wants one both users are in. The last room used with them comes first.
func (b *Bridge) sharedRoom(c conv) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := protocol.Fold(c.name)
	in := func(r *conv) bool {
		for _, m := range r.members {
			if protocol.Fold(m) == k {
				return true
			}
		}
		return false
	}
	if c.via != "" {
		if r := b.convs[roomID(c.via)]; r != nil && in(r) {
			return r.name, nil
		}
	}
	best := ""
	for _, r := range b.convs {
		if r.kind == KindRoom && in(r) && (best == "" || protocol.Fold(r.name) < protocol.Fold(best)) {
			best = r.name
		}
	}
	if best == "" {
		return "", &protocol.Error{Code: protocol.CodeNoSuchUser, Message: c.name + " is not in any of your rooms; join a room with them to chat privately"}
	}
	return best, nil
}

func (b *Bridge) newLocal() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nextLocal++
	return "l" + strconv.FormatInt(b.nextLocal, 10)
}

// spawn runs f as a sender of the current connection: Disconnect waits for it.
func (b *Bridge) spawn(f func()) {
	b.mu.Lock()
	b.spawnLocked(f)
	b.mu.Unlock()
}

// spawnLocked is spawn with b.mu held.
func (b *Bridge) spawnLocked(f func()) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		f()
	}()
}

// settle reports the outcome of a message sent from the UI.
func (b *Bridge) settle(convID, local string, sent client.Sent, err error) {
	if err != nil {
		e := uiErr(err)
		b.em.push(Event{Kind: EvFailed, Conv: convID, Local: local, Error: &ErrorInfo{Code: string(protocol.CodeOf(e)), Message: messageOf(e)}})
		return
	}
	ev := Event{Kind: EvAck, Conv: convID, Local: local, Seq: sent.Seq}
	if !sent.TS.IsZero() {
		ev.TS = protocol.FormatTime(sent.TS)
	}
	b.touchSeq(convID, sent.Seq)
	b.em.push(ev)
}

// touchSeq notes a seq of this user's own message in a conversation.
func (b *Bridge) touchSeq(id string, seq int64) {
	if seq <= 0 {
		return
	}
	b.mu.Lock()
	if c := b.convs[id]; c != nil && (c.oldest == 0 || seq < c.oldest) {
		c.oldest = seq
	}
	b.mu.Unlock()
}

// SendImage sends an image whose bytes the UI read (browser file input,
// paste, drop) as base64. It returns the pending message; "progress",
// then "ack" or "failed" events follow.
func (b *Bridge) SendImage(req SendImageRequest) (Message, error) {
	cl, _, _, err := b.live()
	if err != nil {
		return Message{}, err
	}
	limit := imageLimit(cl)
	if len(req.Data) > base64.StdEncoding.EncodedLen(int(limit))+4 {
		return Message{}, protocol.Errorf(protocol.CodeTooLarge, "that image is over the server's limit of %s", sizeText(limit))
	}
	data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(req.Data))
	if err != nil {
		return Message{}, protocol.Errorf(protocol.CodeBadRequest, "the image data is not base64")
	}
	return b.sendImage(req.Conv, req.Name, bytes.NewReader(data), int64(len(data)), data)
}

// SendImageFile sends the image file at path (the desktop's native file
// dialog and file drops). Go callers only: the UI cannot name files.
func (b *Bridge) SendImageFile(convID, path string) (Message, error) {
	f, err := os.Open(path)
	if err != nil {
		return Message{}, protocol.Errorf(protocol.CodeBadRequest, "cannot open %s", filepath.Base(path))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return Message{}, protocol.Errorf(protocol.CodeBadRequest, "%s is not a file", filepath.Base(path))
	}
	cl, _, _, err := b.live()
	if err != nil {
		return Message{}, err
	}
	if limit := imageLimit(cl); st.Size() > limit {
		return Message{}, protocol.Errorf(protocol.CodeTooLarge, "%s is %s; the server takes images up to %s", filepath.Base(path), sizeText(st.Size()), sizeText(limit))
	}
	data, err := io.ReadAll(io.LimitReader(f, st.Size()))
	if err != nil {
		return Message{}, protocol.Errorf(protocol.CodeBadRequest, "cannot read %s", filepath.Base(path))
	}
	return b.sendImage(convID, filepath.Base(path), bytes.NewReader(data), int64(len(data)), data)
}

func (b *Bridge) sendImage(convID, name string, r io.Reader, size int64, head []byte) (Message, error) {
	cl, cctx, _, err := b.live()
	if err != nil {
		return Message{}, err
	}
	c, err := b.lookup(convID, "")
	if err != nil {
		return Message{}, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = "image"
	}
	if err := protocol.CheckImageName(name); err != nil {
		return Message{}, err
	}
	if size == 0 {
		return Message{}, protocol.Errorf(protocol.CodeBadImage, "%s is empty", name)
	}
	if limit := imageLimit(cl); size > limit {
		return Message{}, protocol.Errorf(protocol.CodeTooLarge, "%s is %s; the server takes images up to %s", name, sizeText(size), sizeText(limit))
	}
	mime, w, h, err := protocol.SniffImage(head)
	if err != nil {
		if protocol.CodeOf(err) == protocol.CodeTooLarge {
			return Message{}, err
		}
		return Message{}, protocol.Errorf(protocol.CodeBadImage, "%s is not a PNG, JPEG, GIF or WebP image", name)
	}
	room, to := c.name, ""
	if c.kind == KindPrivate {
		to = c.name
		if room, err = b.sharedRoom(c); err != nil {
			return Message{}, err
		}
	}
	local := b.newLocal()
	m := Message{Conv: c.id, Kind: MsgImage, From: cl.Name(), To: to, Room: room, Mine: true, Pending: true, Local: local, TS: protocol.FormatTime(time.Now()),
		Image: &Image{Mime: mime, W: w, H: h, Size: size, Name: name}}
	prog := newUploadProgress(size, func(n int64) {
		b.em.push(Event{Kind: EvProgress, Conv: c.id, Local: local, Sent: n, Total: size})
	})
	b.spawn(func() {
		sent, err := cl.SendImage(cctx, room, to, name, r, size, client.WithProgress(prog.update))
		if err == nil && sent.Image != nil {
			b.em.push(Event{Kind: EvMessage, Conv: c.id, Message: &Message{Conv: c.id, Kind: MsgImage, Local: local, Seq: sent.Seq, From: m.From, To: to, Room: room, Mine: true, TS: protocol.FormatTime(sent.TS), Image: imageOf(sent.Image)}})
		}
		b.settle(c.id, local, sent, err)
	})
	return m, nil
}

func imageLimit(cl *client.Client) int64 {
	if l := cl.ServerInfo().Limits.Image; l > 0 {
		return l
	}
	return protocol.DefaultMaxImage
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	case n >= 1<<10:
		return strconv.FormatInt(n>>10, 10) + " KB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// uploadProgress turns the client's progress reports (bytes written to
// the transport) into "progress" events: the first (0), then steps of at
// least progressStep bytes and a fiftieth of the image, and the last
// (total); an upload that starts over after a reconnect reports 0 again.
type uploadProgress struct {
	total, step int64
	last        int64
	emit        func(sent int64)
}

// progressStep is the smallest progress step reported.
const progressStep = 64 << 10

func newUploadProgress(total int64, emit func(int64)) *uploadProgress {
	p := &uploadProgress{total: total, step: max(total/50, progressStep), last: -1, emit: emit}
	p.update(0, total)
	return p
}

// update is the client's progress hook (called from one goroutine at a time).
func (p *uploadProgress) update(sent, _ int64) {
	if sent == p.last || (sent != 0 && sent != p.total && sent-p.last < p.step) {
		return
	}
	p.last = sent
	p.emit(sent)
}

// MaxFetchedImage bounds what FetchImage returns, whatever the server says.
const MaxFetchedImage = 64 << 20

// FetchImage downloads an image and returns it as a data: URL.
func (b *Bridge) FetchImage(id string) (ImageData, error) {
	if len(id) != 64 {
		return ImageData{}, protocol.Errorf(protocol.CodeBadRequest, "not an image id")
	}
	if _, err := hex.DecodeString(id); err != nil || strings.ToLower(id) != id {
		return ImageData{}, protocol.Errorf(protocol.CodeBadRequest, "not an image id")
	}
	cl, cctx, _, err := b.live()
	if err != nil {
		return ImageData{}, err
	}
	ctx, cancel := context.WithTimeout(cctx, 2*RequestTimeout)
	defer cancel()
	mime, data, err := cl.Fetch(ctx, id)
	if err != nil {
		return ImageData{}, uiErr(err)
	}
	if len(data) > MaxFetchedImage {
		return ImageData{}, protocol.Errorf(protocol.CodeTooLarge, "the image is too large to show")
	}
	// Only the four accepted types become data: URLs, decided by the bytes.
	sniffed, _, _, err := protocol.SniffImage(data)
	if err != nil {
		return ImageData{}, protocol.Errorf(protocol.CodeBadImage, "the server sent something that is not an image")
	}
	_ = mime
	return ImageData{ID: id, Mime: sniffed, Size: int64(len(data)), URL: "data:" + sniffed + ";base64," + base64.StdEncoding.EncodeToString(data)}, nil
}

// ImageBytes downloads an image's bytes (the desktop's Save). Go callers only.
func (b *Bridge) ImageBytes(id string) (mime string, data []byte, err error) {
	d, err := b.FetchImage(id)
	if err != nil {
		return "", nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(d.URL[strings.IndexByte(d.URL, ',')+1:])
	return d.Mime, raw, err
}

// Typing tells a room's other members that the user is typing, at most
// every TypingEvery per room. It reports whether a notice went out.
func (b *Bridge) Typing(id string) (bool, error) {
	cl, _, _, err := b.live()
	if err != nil {
		return false, err
	}
	c, err := b.lookup(id, "")
	if err != nil {
		return false, err
	}
	if c.kind != KindRoom {
		return false, nil // the protocol has typing for rooms only
	}
	now := time.Now()
	b.mu.Lock()
	if now.Sub(b.typingAt[id]) < TypingEvery {
		b.mu.Unlock()
		return false, nil
	}
	b.typingAt[id] = now
	b.mu.Unlock()
	if err := cl.Typing(c.name); err != nil {
		return false, nil // best effort
	}
	return true, nil
}
