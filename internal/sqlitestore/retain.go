package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Retain applies the retention policy now: it removes messages older than
// Options.RetainAge and, per conversation, all but the newest
// Options.RetainCount, in steps of a few thousand so that appends interleave.
// It never lowers a conversation's seq, and keeps every nonce younger than
// NonceKeep (ByNonce still answers for it). Nonces older than NonceKeep whose
// message is gone are forgotten, and image files no message refers to any
// more are removed. The store runs it every Options.RetainEvery by itself.
func (s *Store) Retain(ctx context.Context) error {
	for {
		more := false
		err := s.write(ctx, func(b *batch) error {
			var err error
			more, err = b.retainStep(time.Now())
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlitestore: retention: %w", err)
		}
		if !more {
			return nil
		}
		select {
		case <-s.stopRetain:
			return nil
		default:
		}
	}
}

// retainLoop runs Retain periodically until the store closes.
func (s *Store) retainLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.RetainEvery)
	defer t.Stop()
	for {
		// A failed pass (a full disk, say) is retried at the next tick.
		_ = s.Retain(context.Background())
		select {
		case <-s.stopRetain:
			return
		case <-t.C:
		}
	}
}

// retainStep deletes at most about retainChunk messages and reports whether
// more are due.
func (b *batch) retainStep(now time.Time) (more bool, err error) {
	c := b.s.wc
	opts := b.s.opts
	budget := retainChunk
	if opts.RetainAge > 0 {
		// mid grows with insertion and ts nearly so: the messages to remove
		// are those before the first one young enough to keep. The scan
		// reads only what it is about to delete.
		cutoff := now.Add(-opts.RetainAge).UnixNano()
		var first, boundary sql.NullInt64
		if err := c.QueryRowContext(b.ctx, `SELECT min(mid) FROM messages`).Scan(&first); err != nil {
			return false, err
		}
		err := c.QueryRowContext(b.ctx, `SELECT mid FROM messages WHERE ts >= ? ORDER BY mid LIMIT 1`, cutoff).Scan(&boundary)
		if errors.Is(err, sql.ErrNoRows) {
			err = c.QueryRowContext(b.ctx, `SELECT max(mid) + 1 FROM messages`).Scan(&boundary)
		}
		if err != nil {
			return false, err
		}
		if first.Valid && boundary.Valid && first.Int64 < boundary.Int64 {
			end := min(boundary.Int64, first.Int64+int64(budget))
			if err := b.deleteMessages(`mid < ?`, end); err != nil {
				return false, err
			}
			budget -= int(end - first.Int64)
			if end < boundary.Int64 {
				return true, nil
			}
		}
	}
	if opts.RetainCount > 0 {
		n := int64(opts.RetainCount)
		if b.s.c.retainAll {
			rows, err := c.QueryContext(b.ctx, `SELECT cid FROM conversations WHERE seq > ?`, n)
			if err != nil {
				return false, err
			}
			for rows.Next() {
				var cid int64
				if err := rows.Scan(&cid); err != nil {
					rows.Close()
					return false, err
				}
				b.s.c.retainDirty[cid] = struct{}{}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return false, err
			}
			b.s.c.retainAll = false
		}
		for cid := range b.s.c.retainDirty {
			if budget <= 0 {
				return true, nil
			}
			var seq int64
			var low sql.NullInt64
			if err := c.QueryRowContext(b.ctx, `SELECT seq, (SELECT min(seq) FROM messages WHERE cid = ?)
				FROM conversations WHERE cid = ?`, cid, cid).Scan(&seq, &low); err != nil && !errors.Is(err, sql.ErrNoRows) {
				return false, err
			}
			limit := seq - n // remove seq <= limit
			if low.Valid && low.Int64 <= limit {
				end := min(limit, low.Int64+int64(budget)-1)
				if err := b.deleteMessages(`cid = ? AND seq <= ?`, cid, end); err != nil {
					return false, err
				}
				budget -= int(end - low.Int64 + 1)
				if end < limit {
					return true, nil
				}
			}
			delete(b.s.c.retainDirty, cid)
		}
	}
	_, err = c.ExecContext(b.ctx, `DELETE FROM nonces WHERE ts < ?`, now.Add(-NonceKeep).UnixNano())
	return false, err
}

// deleteMessages deletes the messages matching cond (over the messages
// table's own columns), keeping the nonces younger than NonceKeep in the
// nonces table, and removes the images no message refers to any more (their
// files once the batch commits).
func (b *batch) deleteMessages(cond string, args ...any) error {
	c := b.s.wc
	keep := time.Now().Add(-NonceKeep).UnixNano()
	if _, err := c.ExecContext(b.ctx, `INSERT OR IGNORE INTO nonces
		(owner, nonce, conv, seq, ts, img_id, img_mime, img_w, img_h, img_size, img_name)
		SELECT owner, nonce, (SELECT id FROM conversations WHERE cid = messages.cid), seq, ts,
			img_id, img_mime, img_w, img_h, img_size, img_name
		FROM messages WHERE `+cond+` AND nonce <> '' AND ts >= ?`, append(args, keep)...); err != nil {
		return err
	}
	var imgs []string
	rows, err := c.QueryContext(b.ctx, `SELECT DISTINCT img_id FROM messages WHERE `+cond+` AND img_id IS NOT NULL`, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		imgs = append(imgs, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if _, err := c.ExecContext(b.ctx, `DELETE FROM messages WHERE `+cond, args...); err != nil {
		return err
	}
	for _, id := range imgs {
		if _, err := c.ExecContext(b.ctx, `DELETE FROM image_posts WHERE id = ? AND NOT EXISTS
			(SELECT 1 FROM messages m WHERE m.img_id = image_posts.id AND m.cid = image_posts.cid)`, id); err != nil {
			return err
		}
		var posted int
		if err := c.QueryRowContext(b.ctx, `SELECT EXISTS (SELECT 1 FROM image_posts WHERE id = ?)`, id).Scan(&posted); err != nil {
			return err
		}
		if posted == 0 {
			if _, err := c.ExecContext(b.ctx, `DELETE FROM images WHERE id = ?`, id); err != nil {
				return err
			}
			b.after = append(b.after, func() { b.s.removeImageFile(id) })
		}
	}
	return nil
}
