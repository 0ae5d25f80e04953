package sqlitestore

import (
	"context"
	"strings"
	"testing"
)

// Every hot query must use an index, not scan a table that grows with
// history: a scan passes every functional test and slows the server down
// as history grows.
func TestQueryPlansUseIndexes(t *testing.T) {
	s := openTest(t, Options{})
	defer s.Close()
	ctx := context.Background()
	for _, q := range []struct {
		name, query string
		args        []any
		want        string
	}{
		{"ByNonce", byNonceQuery, []any{"k:alice", "n1"}, "messages_nonce"},
		{"History before", `SELECT ` + msgCols + ` FROM messages m WHERE m.cid = (SELECT cid FROM conversations WHERE id = ?)
			AND m.seq < ? ORDER BY m.seq DESC LIMIT ?`, []any{"r:x", 5, 10}, "messages_seq"},
		{"orphan nonce", `SELECT 1 FROM nonces WHERE owner = ? AND nonce = ?`, []any{"k:alice", "n1"}, "PRIMARY KEY"},
	} {
		rows, err := s.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q.query, q.args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		all := strings.Join(plan, "; ")
		if !strings.Contains(all, q.want) || strings.Contains(all, "SCAN m") {
			t.Errorf("%s: plan %q does not use %s", q.name, all, q.want)
		}
	}
}
