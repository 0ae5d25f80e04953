package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"golang.org/x/time/rate"

	"parley/protocol"
)

// uploadTimeout bounds one upload or fetch.
const uploadTimeout = 5 * 60e9

// acceptUploads serves WebTransport upload streams, one goroutine each
// (QUIC's stream limit bounds how many).
func (ss *session) acceptUploads() {
	for {
		str, err := ss.c.AcceptUpload(ss.ctx)
		if err != nil {
			return
		}
		if !ss.begin() {
			str.Cancel() // draining: the client sends it again after reconnecting
			continue
		}
		ss.goSafe(func() {
			defer ss.reqs.Done()
			ss.streamUpload(str)
		})
	}
}

// acceptFetches serves WebTransport fetch streams, one goroutine each.
func (ss *session) acceptFetches() {
	for {
		str, err := ss.c.AcceptFetch(ss.ctx)
		if err != nil {
			return
		}
		if !ss.begin() {
			str.Cancel()
			continue
		}
		ss.goSafe(func() {
			defer ss.reqs.Done()
			ss.streamFetch(str)
		})
	}
}

// readLine reads one header line of at most protocol.MaxFrame bytes.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > protocol.MaxFrame {
			return nil, protocol.ErrFrameTooLarge
		}
		line = append(line, chunk...)
		switch err {
		case nil:
			return line[:len(line)-1], nil
		case bufio.ErrBufferFull:
			continue
		default:
			return nil, err
		}
	}
}

// streamUpload handles an image upload stream: header line, then size bytes.
func (ss *session) streamUpload(str recvStream) {
	br := bufio.NewReaderSize(str, 32<<10)
	head, err := readLine(br)
	if err != nil {
		str.Cancel()
		if errors.Is(err, protocol.ErrFrameTooLarge) {
			ss.sendErr(0, protocol.Errorf(protocol.CodeTooLarge, "upload header over the frame limit"))
		}
		return
	}
	if !ss.upload(head, br, true) {
		str.Cancel()
	}
}

// wsUpload handles a WebSocket binary message: an upload.
func (ss *session) wsUpload(msg io.Reader) {
	br := bufio.NewReaderSize(msg, 32<<10)
	head, err := readLine(br)
	if err != nil {
		ss.protocolError(protocol.Errorf(protocol.CodeBadRequest, "an upload starts with its header line"))
		return
	}
	if !ss.upload(head, br, false) {
		// Skip the rest of the rejected upload, within reason.
		limit := ss.srv.cfg.Limits.Image + protocol.MaxFrame
		n, _ := io.Copy(io.Discard, io.LimitReader(br, limit+1))
		if n > limit {
			ss.protocolError(protocol.Errorf(protocol.CodeTooLarge, "upload over the image limit"))
		}
	}
}

// upload checks an upload's header, streams its bytes into the store while
// checking them, and posts the image. It reports whether the body was
// read to its end (else the caller stops or skips it).
func (ss *session) upload(head []byte, body *bufio.Reader, stream bool) bool {
	f, err := protocol.Decode(head)
	if f == nil {
		ss.protocolErrorAsync(err)
		return false
	}
	if err != nil || f.Type != protocol.TypeImage {
		if err == nil {
			err = protocol.Errorf(protocol.CodeBadRequest, "an upload header has type image")
		}
		ss.sendErr(idOf(f), err)
		return false
	}
	if !protocol.ValidID(f) {
		ss.sendErr(0, protocol.Errorf(protocol.CodeBadRequest, "a request needs an id from 1 to 2^53-1"))
		return false
	}
	if ss.user.Load() == nil {
		ss.sendErr(f.ID, protocol.Errorf(protocol.CodeHelloRequired, "say hello first"))
		return false
	}
	if !ss.limiter.Allow() {
		ss.srv.metrics.rateLimit.Add(1)
		ss.sendErr(f.ID, protocol.Errorf(protocol.CodeRateLimited, "too many requests; slow down"))
		return false
	}
	if f.Room == "" {
		ss.sendErr(f.ID, protocol.Errorf(protocol.CodeBadRequest, "an image needs a room"))
		return false
	}
	if err := protocol.CheckImageName(f.Name); err != nil {
		ss.sendErr(f.ID, err)
		return false
	}
	if hasField(head, "nonce") {
		if err := protocol.CheckNonce(f.Nonce); err != nil {
			ss.sendErr(f.ID, err)
			return false
		}
	}
	if f.Size <= 0 {
		ss.sendErr(f.ID, protocol.Errorf(protocol.CodeBadRequest, "size must be positive"))
		return false
	}
	if limit := ss.srv.cfg.Limits.Image; f.Size > limit {
		ss.sendErr(f.ID, protocol.Errorf(protocol.CodeTooLarge, "image of %d bytes is over the %d-byte limit", f.Size, limit))
		return false
	}
	ctx, cancel := context.WithTimeout(ss.ctx, uploadTimeout)
	defer cancel()

	// Sniff the type and dimensions from the first bytes, before storing.
	sniff := min(f.Size, protocol.SniffHeader)
	first := make([]byte, sniff)
	n, err := io.ReadFull(body, first)
	ss.srv.metrics.bytesIn.Add(int64(n))
	if err != nil {
		ss.sendErr(f.ID, protocol.Errorf(protocol.CodeBadRequest, "upload ended after %d of %d bytes", n, f.Size))
		return err == io.EOF || err == io.ErrUnexpectedEOF
	}
	mime, w, h, err := protocol.SniffImage(first)
	if err != nil {
		ss.sendErr(f.ID, err)
		return false
	}
	up, err := ss.srv.store.NewUpload(ctx)
	if err != nil {
		ss.sendErr(f.ID, err)
		return false
	}
	defer up.Abort()
	hash := sha256.New()
	dst := io.MultiWriter(up, hash)
	if _, err := dst.Write(first); err != nil {
		ss.sendErr(f.ID, err)
		return false
	}
	var src io.Reader = body
	if stream {
		// An upload on its own QUIC stream is paced (see uploadRate); on
		// WebSocket it shares the session's one connection, which pacing
		// would only slow down.
		src = &pacedReader{r: body, ctx: ctx, lim: rate.NewLimiter(uploadRate, uploadBurst)}
	}
	rest, err := io.CopyN(dst, src, f.Size-sniff)
	ss.srv.metrics.bytesIn.Add(rest)
	if err != nil {
		if err == io.EOF {
			ss.sendErr(f.ID, protocol.Errorf(protocol.CodeBadRequest, "upload ended after %d of %d bytes", sniff+rest, f.Size))
			return true
		}
		ss.sendErr(f.ID, fmt.Errorf("read upload: %w", err))
		return false
	}
	var one [1]byte
	if m, _ := body.Read(one[:]); m > 0 {
		ss.sendErr(f.ID, protocol.Errorf(protocol.CodeBadRequest, "upload is longer than its declared %d bytes", f.Size))
		return false
	}
	if stream {
		// The stream must end right after the bytes.
		if _, err := body.Read(one[:]); err != io.EOF {
			ss.sendErr(f.ID, protocol.Errorf(protocol.CodeBadRequest, "upload is longer than its declared %d bytes", f.Size))
			return false
		}
	}
	id := hex.EncodeToString(hash.Sum(nil))
	if err := up.Commit(ctx, id); err != nil {
		ss.sendErr(f.ID, err)
		return true
	}
	ss.srv.metrics.images.Add(1)
	meta := &protocol.ImageMeta{ID: id, Mime: mime, W: w, H: h, Size: f.Size, Name: f.Name}
	ss.post(ctx, f.Room, f.To, &post{id: f.ID, image: meta, nonce: f.Nonce})
	return true
}

// idOf returns a frame's id if it is valid, else 0.
func idOf(f *protocol.Frame) int64 {
	if f != nil && protocol.ValidID(f) {
		return f.ID
	}
	return 0
}

// mayFetch reports whether the session's user may fetch an image: it is in
// a room the image was posted in, or one of the two users of a private
// conversation it was posted in.
func (ss *session) mayFetch(ctx context.Context, id string) bool {
	u := ss.user.Load()
	if u == nil {
		return false
	}
	convs, err := ss.srv.store.ImageConvs(ctx, id)
	if err != nil {
		return false
	}
	for _, c := range convs {
		if c.IsRoom() {
			if r := ss.srv.hub.findRoom(string(c[2:])); r != nil && r.hasUser(u.key) {
				return true
			}
			continue
		}
		for _, k := range pairKeys(c) {
			if k == u.key {
				return true
			}
		}
	}
	return false
}

// pairKeys returns the two folded names of a private conversation.
func pairKeys(c ConvID) []string {
	s := string(c)
	if len(s) < 2 || s[:2] != "p:" {
		return nil
	}
	for i := 2; i < len(s); i++ {
		if s[i] == '\n' {
			return []string{s[2:i], s[i+1:]}
		}
	}
	return nil
}

// openImage opens an image the session may see, with its MIME type and size.
func (ss *session) openImage(ctx context.Context, id string) (io.ReadCloser, string, int64, error) {
	notFound := protocol.Errorf(protocol.CodeNotFound, "no such image")
	if id == "" || !ss.mayFetch(ctx, id) {
		return nil, "", 0, notFound
	}
	rc, err := ss.srv.store.OpenImage(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, "", 0, notFound
	}
	if err != nil {
		return nil, "", 0, err
	}
	size, err := sizeOf(rc)
	if err != nil {
		rc.Close()
		return nil, "", 0, err
	}
	br := bufio.NewReaderSize(rc, 64<<10)
	head, _ := br.Peek(int(min(size, 64<<10)))
	mime, _, _, err := protocol.SniffImage(head)
	if err != nil && protocol.CodeOf(err) != protocol.CodeTooLarge {
		mime = "application/octet-stream"
	}
	return readCloser{br, rc}, mime, size, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// sizeOf finds the size of an image's bytes without reading them where it can.
func sizeOf(rc io.ReadCloser) (int64, error) {
	switch v := rc.(type) {
	case interface{ Size() int64 }:
		return v.Size(), nil
	case interface{ Stat() (fs.FileInfo, error) }:
		fi, err := v.Stat()
		if err != nil {
			return 0, err
		}
		return fi.Size(), nil
	case io.Seeker:
		cur, err := v.Seek(0, io.SeekCurrent)
		if err != nil {
			return 0, err
		}
		end, err := v.Seek(0, io.SeekEnd)
		if err != nil {
			return 0, err
		}
		_, err = v.Seek(cur, io.SeekStart)
		return end - cur, err
	}
	return 0, errors.New("server: image size unknown")
}

// streamFetch answers a WebTransport fetch stream.
func (ss *session) streamFetch(str bidiStream) {
	defer str.Close()
	br := bufio.NewReaderSize(str, 4096)
	head, err := readLine(br)
	if err != nil {
		str.Cancel()
		return
	}
	f, err := protocol.Decode(head)
	if err != nil || f.Type != protocol.TypeFetch {
		writeErrLine(str, protocol.Errorf(protocol.CodeBadRequest, "a fetch stream starts with a fetch frame"))
		return
	}
	ctx, cancel := context.WithTimeout(ss.ctx, uploadTimeout)
	defer cancel()
	rc, mime, size, err := ss.openImage(ctx, f.Image.ID)
	if err != nil {
		writeErrLine(str, err)
		return
	}
	defer rc.Close()
	hdr, _ := protocol.Encode(&protocol.Frame{Type: protocol.TypeImage, Mime: mime, Size: size})
	if _, err := str.Write(hdr); err != nil {
		return
	}
	if _, err := io.CopyN(str, rc, size); err != nil {
		str.Cancel()
	}
}

func writeErrLine(w io.Writer, err error) {
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		pe = &protocol.Error{Code: protocol.CodeInternal, Message: "the server failed"}
	}
	b, _ := protocol.Encode(pe.Frame())
	w.Write(b)
}

// wsFetch answers a fetch sent on the control channel (WebSocket) with one
// binary message, whenever it is ready.
func (ss *session) wsFetch(f *protocol.Frame) {
	if ss.c.Datagrams() {
		ss.fail(f.ID, protocol.Errorf(protocol.CodeBadRequest, "over WebTransport a fetch goes on its own stream"))
		return
	}
	ss.reqs.Add(1) // the reader's request holds reqs above zero
	ss.goSafe(func() {
		defer ss.reqs.Done()
		ctx, cancel := context.WithTimeout(ss.ctx, uploadTimeout)
		defer cancel()
		rc, mime, size, err := ss.openImage(ctx, f.Image.ID)
		if err != nil {
			ss.sendErr(f.ID, err)
			return
		}
		defer rc.Close()
		hdr, _ := protocol.Encode(&protocol.Frame{Type: protocol.TypeImage, ID: f.ID, Mime: mime, Size: size})
		if err := ss.c.WriteBinary(ctx, hdr[:len(hdr)-1], rc, size); err != nil {
			ss.close(protocol.CloseCode(ss.wantCode.Load()), "")
		}
	})
}

// Uploads are read at most at uploadRate bytes per second, uploadBurst at
// a time: with the streams' small receive window this spreads the QUIC
// stack's work for an image over time, so that it does not hold up the
// chat's fan-out (DESIGN.md: an image must not delay text).
const (
	uploadRate  = 32 << 20
	uploadBurst = 64 << 10
)

// pacedReader reads from r at the pace lim allows.
type pacedReader struct {
	r   io.Reader
	ctx context.Context
	lim *rate.Limiter
}

func (p *pacedReader) Read(b []byte) (int, error) {
	if len(b) > uploadBurst {
		b = b[:uploadBurst]
	}
	n, err := p.r.Read(b)
	if n > 0 {
		if werr := p.lim.WaitN(p.ctx, n); werr != nil && err == nil {
			err = werr
		}
	}
	return n, err
}
