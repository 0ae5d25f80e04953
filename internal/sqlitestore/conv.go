package sqlitestore

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"parley/protocol"
	"parley/server"
)

// Conv returns a conversation's state, creating it (seq 0, a new epoch, the
// given name; a pair's name is empty) when the store has never seen it.
func (s *Store) Conv(ctx context.Context, id server.ConvID, name string) (server.ConvState, error) {
	if s.down.Load() {
		return server.ConvState{}, ErrClosed
	}
	st, err := s.convState(ctx, s.r, id)
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return st, err
	}
	err = s.write(ctx, func(b *batch) error {
		if err := b.createConv(id, name); err != nil {
			return err
		}
		st, err = b.s.convStateConn(b.ctx, b.s.wc, id)
		return err
	})
	return st, err
}

// querier is what a *sql.DB and a *sql.Conn have in common.
type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// convState reads a conversation; sql.ErrNoRows (wrapped) when unknown.
func (s *Store) convState(ctx context.Context, q querier, id server.ConvID) (server.ConvState, error) {
	st, err := s.convStateConn(ctx, q, id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		err = fmt.Errorf("sqlitestore: read conversation %q: %w", id, err)
	}
	return st, err
}

func (s *Store) convStateConn(ctx context.Context, q querier, id server.ConvID) (server.ConvState, error) {
	st := server.ConvState{Conv: id}
	err := q.QueryRowContext(ctx, `SELECT name, seq, epoch FROM conversations WHERE id = ?`, string(id)).
		Scan(&st.Name, &st.Seq, &st.Epoch)
	return st, err
}

// History returns a page of a conversation, oldest first (see
// server.HistoryQuery). An unknown conversation has no messages.
func (s *Store) History(ctx context.Context, id server.ConvID, q server.HistoryQuery) ([]*server.Message, error) {
	if s.down.Load() {
		return nil, ErrClosed
	}
	if (q.Before == nil) == (q.Since == nil) {
		return nil, errors.New("sqlitestore: history needs exactly one of Before and Since")
	}
	if q.Limit < 1 || q.Limit > protocol.MaxHistory {
		return nil, fmt.Errorf("sqlitestore: history limit %d is not 1 to %d", q.Limit, protocol.MaxHistory)
	}
	var query string
	var at int64
	if q.Before != nil {
		at = *q.Before
		query = `SELECT ` + msgCols + ` FROM messages m WHERE m.cid = (SELECT cid FROM conversations WHERE id = ?)
			AND m.seq < ? ORDER BY m.seq DESC LIMIT ?`
	} else {
		at = *q.Since
		query = `SELECT ` + msgCols + ` FROM messages m WHERE m.cid = (SELECT cid FROM conversations WHERE id = ?)
			AND m.seq > ? ORDER BY m.seq ASC LIMIT ?`
	}
	rows, err := s.r.QueryContext(ctx, query, string(id), at, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: history of %q: %w", id, err)
	}
	defer rows.Close()
	out := make([]*server.Message, 0, q.Limit)
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: history of %q: %w", id, err)
		}
		m.Conv = id
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: history of %q: %w", id, err)
	}
	if q.Before != nil {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, nil
}

// msgCols are the messages columns scanMessage reads, in order.
const msgCols = `m.seq, m.ts, m.room, m.sender, m.recipient, m.text,
	m.img_id, m.img_mime, m.img_w, m.img_h, m.img_size, m.img_name, m.owner, m.nonce`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanMessage reads msgCols (Conv is left to the caller).
func scanMessage(r scanner) (*server.Message, error) {
	m := &server.Message{}
	var ts int64
	var img imageCols
	if err := r.Scan(&m.Seq, &ts, &m.Room, &m.From, &m.To, &m.Text,
		&img.id, &img.mime, &img.w, &img.h, &img.size, &img.name, &m.Owner, &m.Nonce); err != nil {
		return nil, err
	}
	m.TS = time.Unix(0, ts).UTC()
	m.Image = img.meta()
	return m, nil
}

// imageCols are a message's nullable image columns.
type imageCols struct {
	id, mime, name sql.NullString
	w, h, size     sql.NullInt64
}

func (c *imageCols) meta() *protocol.ImageMeta {
	if !c.id.Valid {
		return nil
	}
	return &protocol.ImageMeta{ID: c.id.String, Mime: c.mime.String, W: int(c.w.Int64), H: int(c.h.Int64),
		Size: c.size.Int64, Name: c.name.String}
}

// byNonceQuery finds a message by owner and nonce. The non-empty nonce test lets SQLite
// use the partial index messages_nonce (it cannot infer it from "= ?").
const byNonceQuery = `SELECT c.id, ` + msgCols + ` FROM messages m JOIN conversations c ON c.cid = m.cid
	WHERE m.owner = ? AND m.nonce = ? AND m.nonce <> ''`

// ByNonce returns the message that owner made with nonce, or
// server.ErrNotFound. For a message retention removed while its nonce is
// still kept, the result carries Conv, Seq, TS, Image, Owner and Nonce only.
func (s *Store) ByNonce(ctx context.Context, owner, nonce string) (*server.Message, error) {
	if s.down.Load() {
		return nil, ErrClosed
	}
	if nonce == "" {
		return nil, server.ErrNotFound
	}
	var conv string
	row := s.r.QueryRowContext(ctx, byNonceQuery, owner, nonce)
	m, err := scanMessageConv(row, &conv)
	if err == nil {
		m.Conv = server.ConvID(conv)
		return m, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: nonce lookup: %w", err)
	}
	m = &server.Message{Owner: owner, Nonce: nonce}
	var ts int64
	var img imageCols
	err = s.r.QueryRowContext(ctx, `SELECT conv, seq, ts, img_id, img_mime, img_w, img_h, img_size, img_name
		FROM nonces WHERE owner = ? AND nonce = ?`, owner, nonce).
		Scan(&conv, &m.Seq, &ts, &img.id, &img.mime, &img.w, &img.h, &img.size, &img.name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, server.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: nonce lookup: %w", err)
	}
	m.Conv, m.TS, m.Image = server.ConvID(conv), time.Unix(0, ts).UTC(), img.meta()
	return m, nil
}

// scanMessageConv reads a conversation id followed by msgCols.
func scanMessageConv(r scanner, conv *string) (*server.Message, error) {
	m := &server.Message{}
	var ts int64
	var img imageCols
	if err := r.Scan(conv, &m.Seq, &ts, &m.Room, &m.From, &m.To, &m.Text,
		&img.id, &img.mime, &img.w, &img.h, &img.size, &img.name, &m.Owner, &m.Nonce); err != nil {
		return nil, err
	}
	m.TS = time.Unix(0, ts).UTC()
	m.Image = img.meta()
	return m, nil
}

// Conversations returns the private conversations of the user whose folded
// name is key, with the other user's display name in Name (their folded name
// when no message told it yet).
func (s *Store) Conversations(ctx context.Context, key string) ([]server.ConvState, error) {
	if s.down.Load() {
		return nil, ErrClosed
	}
	rows, err := s.r.QueryContext(ctx, `
		SELECT c.id, c.seq, c.epoch, coalesce(nullif(c.b_name, ''), i.display, c.b_key)
			FROM conversations c LEFT JOIN identities i ON i.key = c.b_key WHERE c.a_key = ?
		UNION ALL
		SELECT c.id, c.seq, c.epoch, coalesce(nullif(c.a_name, ''), i.display, c.a_key)
			FROM conversations c LEFT JOIN identities i ON i.key = c.a_key WHERE c.b_key = ? AND c.a_key <> c.b_key
		ORDER BY 1`, key, key)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: conversations of %q: %w", key, err)
	}
	defer rows.Close()
	var out []server.ConvState
	for rows.Next() {
		var st server.ConvState
		var id string
		if err := rows.Scan(&id, &st.Seq, &st.Epoch, &st.Name); err != nil {
			return nil, fmt.Errorf("sqlitestore: conversations of %q: %w", key, err)
		}
		st.Conv = server.ConvID(id)
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: conversations of %q: %w", key, err)
	}
	return out, nil
}

// DropConv forgets a conversation, its messages, its kept nonces and its
// image postings; images no longer posted anywhere are removed. A later Conv
// creates it afresh, with a new epoch.
func (s *Store) DropConv(ctx context.Context, id server.ConvID) error {
	err := s.write(ctx, func(b *batch) error {
		var cid int64
		err := b.s.wc.QueryRowContext(b.ctx, `SELECT cid FROM conversations WHERE id = ?`, string(id)).Scan(&cid)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := b.deleteMessages(`cid = ?`, cid); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM nonces WHERE conv = ?`,
			`DELETE FROM conversations WHERE id = ?`,
		} {
			if _, err := b.s.wc.ExecContext(b.ctx, q, string(id)); err != nil {
				return err
			}
		}
		if _, err := b.s.wc.ExecContext(b.ctx, `DELETE FROM image_posts WHERE cid = ?`, cid); err != nil {
			return err
		}
		delete(b.s.c.convs, id)
		delete(b.s.c.retainDirty, cid)
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: drop %q: %w", id, err)
	}
	return nil
}

// Bind binds the folded name key to pub unless it is bound already, and
// returns the key it is bound to afterwards.
func (s *Store) Bind(ctx context.Context, key, display string, pub ed25519.PublicKey) (ed25519.PublicKey, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("sqlitestore: bind %q: public key has %d bytes, want %d", key, len(pub), ed25519.PublicKeySize)
	}
	var bound []byte
	err := s.write(ctx, func(b *batch) error {
		if _, err := b.s.wc.ExecContext(b.ctx, `INSERT OR IGNORE INTO identities (key, display, pub, bound) VALUES (?, ?, ?, ?)`,
			key, display, []byte(pub), time.Now().UnixNano()); err != nil {
			return err
		}
		return b.s.wc.QueryRowContext(b.ctx, `SELECT pub FROM identities WHERE key = ?`, key).Scan(&bound)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: bind %q: %w", key, err)
	}
	return ed25519.PublicKey(bound), nil
}

// Bound returns the key the folded name key is bound to, or nil.
func (s *Store) Bound(ctx context.Context, key string) (ed25519.PublicKey, error) {
	if s.down.Load() {
		return nil, ErrClosed
	}
	var pub []byte
	err := s.r.QueryRowContext(ctx, `SELECT pub FROM identities WHERE key = ?`, key).Scan(&pub)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: bound %q: %w", key, err)
	}
	return ed25519.PublicKey(pub), nil
}
