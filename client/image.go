package client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"parley/protocol"
)

// SendImage uploads an image of size bytes read from r to room (privately
// to user to, when to is not empty); name is the file name shown. The
// bytes are read before anything is sent, so that the upload can be
// repeated (with its nonce) after a reconnect. It returns when the server
// acknowledged the image. WithProgress reports the bytes written to the
// transport as the upload goes.
func (c *Client) SendImage(ctx context.Context, room, to, name string, r io.Reader, size int64, opts ...ImageOption) (Sent, error) {
	var opt imageOpts
	for _, apply := range opts {
		apply(&opt)
	}
	room, to = trimSpace(room), trimSpace(to)
	if room == "" {
		return Sent{}, protocol.Errorf(protocol.CodeBadRequest, "an image needs a room")
	}
	if err := protocol.CheckImageName(name); err != nil {
		return Sent{}, err
	}
	if limit := c.imageLimit(); size > limit {
		return Sent{}, protocol.Errorf(protocol.CodeTooLarge, "image of %d bytes is over the %d-byte limit", size, limit)
	}
	if size <= 0 {
		return Sent{}, protocol.Errorf(protocol.CodeBadRequest, "image is empty")
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(r, body); err != nil {
		return Sent{}, fmt.Errorf("client: read image: %w", err)
	}
	f := &protocol.Frame{Type: protocol.TypeImage, Room: room, To: to, Name: name, Size: size, Nonce: newNonce()}
	var prog *progressReport
	var hook func(sent, total int64)
	if opt.progress != nil {
		prog = &progressReport{f: opt.progress}
		hook = prog.report
	}
	a, err := c.do(ctx, f, reqOpts{resend: true, upload: body, progress: hook, onAnswer: c.ackLocked(room, to)})
	if err != nil {
		return Sent{}, err
	}
	// The server has every byte once it answers, perhaps before the
	// transport's upload call returned: the last report comes first.
	prog.finish(size)
	return sentOf(a.f), nil
}

// SendImageFile uploads the image file at path, as SendImage, under the
// file's base name.
func (c *Client) SendImageFile(ctx context.Context, room, to, path string, opts ...ImageOption) (Sent, error) {
	fh, err := os.Open(path)
	if err != nil {
		return Sent{}, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return Sent{}, err
	}
	return c.SendImage(ctx, room, to, filepath.Base(path), fh, st.Size(), opts...)
}

func (c *Client) imageLimit() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.server.Limits.Image > 0 {
		return c.server.Limits.Image
	}
	return protocol.DefaultMaxImage
}

// Fetch downloads the bytes of image id and returns them with their MIME
// type. While reconnecting it waits for the session (or ctx).
func (c *Client) Fetch(ctx context.Context, imageID string) (mime string, data []byte, err error) {
	for {
		s, err := c.waitLive(ctx)
		if err != nil {
			return "", nil, err
		}
		req, err := protocol.Encode(&protocol.Frame{Type: protocol.TypeFetch, Image: protocol.ImageField{ID: imageID}})
		if err != nil {
			return "", nil, err
		}
		rc, err := s.conn.Fetch(ctx, req[:len(req)-1])
		if errors.Is(err, ErrFetchOnControl) {
			a, err := c.do(ctx, &protocol.Frame{Type: protocol.TypeFetch, Image: protocol.ImageField{ID: imageID}}, reqOpts{resend: true, binary: true})
			if err != nil {
				return "", nil, err
			}
			return a.f.Mime, a.data, nil
		}
		if err != nil {
			if s.ctx.Err() != nil && ctx.Err() == nil {
				continue // the session was lost: try on the next one
			}
			return "", nil, err
		}
		mime, data, err = c.readFetch(rc)
		rc.Close()
		if err != nil && protocol.CodeOf(err) == "" && s.ctx.Err() != nil && ctx.Err() == nil {
			continue
		}
		return mime, data, err
	}
}

// readFetch reads a fetch answer stream: a header line, then size bytes,
// or one err line.
func (c *Client) readFetch(r io.Reader) (string, []byte, error) {
	br := bufio.NewReaderSize(r, protocol.MaxFrame)
	line, err := br.ReadSlice('\n')
	if err != nil {
		return "", nil, fmt.Errorf("client: fetch answer header: %w", err)
	}
	f, err := protocol.Decode(bytes.TrimSuffix(line, []byte("\n")))
	if err != nil {
		return "", nil, fmt.Errorf("client: fetch answer: %w", err)
	}
	if f.Type == protocol.TypeErr {
		return "", nil, &protocol.Error{Code: f.Code, Message: f.Message}
	}
	if f.Type != protocol.TypeImage || f.Size < 0 || f.Size > max(c.imageLimit(), protocol.DefaultMaxImage) {
		return "", nil, fmt.Errorf("client: fetch answer: unexpected %s header of size %d", f.Type, f.Size)
	}
	data := make([]byte, f.Size)
	if _, err := io.ReadFull(br, data); err != nil {
		return "", nil, fmt.Errorf("client: fetch answer: %w", err)
	}
	return f.Mime, data, nil
}

// waitLive returns the live session, waiting for a reconnect if needed.
func (c *Client) waitLive(ctx context.Context) (*session, error) {
	for {
		c.mu.Lock()
		s, closed := c.live, c.closed
		var ch chan struct{}
		if s == nil && !closed {
			if c.liveCh == nil {
				c.liveCh = make(chan struct{})
			}
			ch = c.liveCh
		}
		c.mu.Unlock()
		switch {
		case closed:
			return nil, ErrClosed
		case s != nil:
			return s, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
