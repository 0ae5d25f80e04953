package sqlitestore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
)

// stmts are the committer's prepared statements, on its connection.
type stmts struct {
	convGet   *sql.Stmt
	convNew   *sql.Stmt
	convSeq   *sql.Stmt
	msgPut    *sql.Stmt
	imgPut    *sql.Stmt
	postPut   *sql.Stmt
	orphanHas *sql.Stmt
}

// prepare prepares the committer's statements.
func (s *Store) prepare(ctx context.Context) error {
	st := &stmts{}
	s.c.stmts = st
	for _, p := range []struct {
		dst **sql.Stmt
		q   string
	}{
		{&st.convGet, `SELECT cid, seq, a_name, b_name FROM conversations WHERE id = ?`},
		{&st.convNew, `INSERT OR IGNORE INTO conversations (id, name, epoch, a_key, b_key) VALUES (?, ?, ?, ?, ?)`},
		{&st.convSeq, `UPDATE conversations SET seq = ?, a_name = coalesce(?, a_name), b_name = coalesce(?, b_name) WHERE cid = ?`},
		{&st.msgPut, `INSERT INTO messages (cid, seq, ts, room, sender, recipient, text,
			img_id, img_mime, img_w, img_h, img_size, img_name, owner, nonce)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.imgPut, `INSERT OR IGNORE INTO images (id, mime, w, h, size) VALUES (?, ?, ?, ?, ?)`},
		{&st.postPut, `INSERT OR IGNORE INTO image_posts (id, cid) VALUES (?, ?)`},
		{&st.orphanHas, `SELECT 1 FROM nonces WHERE owner = ? AND nonce = ?`},
	} {
		var err error
		if *p.dst, err = s.wc.PrepareContext(ctx, p.q); err != nil {
			return err
		}
	}
	return nil
}

// close releases the statements.
func (st *stmts) close() {
	var errs []error
	for _, p := range []*sql.Stmt{st.convGet, st.convNew, st.convSeq, st.msgPut, st.imgPut, st.postPut, st.orphanHas} {
		if p != nil {
			errs = append(errs, p.Close())
		}
	}
	_ = errors.Join(errs...)
}

// newEpoch makes a conversation's random epoch.
func newEpoch() string { return rand.Text() }
