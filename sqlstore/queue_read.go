package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/review"
)

// FindQueueWithResponses returns what FindQueue returns, and the client
// responses waiting for the actor's answer (FindOpenResponses), as the
// first page of the review queue shows them beside its drafts. On
// PostgreSQL both are one statement (queueWithResponsesQuery); on SQLite,
// which reads in process, the two reads.
func (db *ReviewStore) FindQueueWithResponses(ctx context.Context, f review.QueueFilter) ([]*review.Draft, string, []*client.Response, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, "", nil, err
	}
	now := db.Now().UTC()
	query, args, limit, err := db.queueQuery(ctx, f, now)
	if err != nil {
		return nil, "", nil, err
	}
	where, wargs, ok := openResponsesWhere(a)
	if !ok || !db.dialect.writableCTE() {
		drafts, next, err := db.FindQueue(ctx, f)
		if err != nil {
			return nil, "", nil, err
		}
		open, err := db.FindOpenResponses(ctx)
		return drafts, next, open, err
	}
	rows, open, err := db.queueWithResponses(ctx, db.r.Rebind(queueWithResponsesQuery(query, where)), append(wargs, args...))
	if err != nil {
		return nil, "", nil, err
	}
	o := db.openers(db.r)
	drafts, next, err := db.queueDrafts(ctx, o, rows, limit, now)
	if err != nil {
		return nil, "", nil, err
	}
	responses, err := openResponses(ctx, o, open)
	if err != nil {
		return nil, "", nil, err
	}
	return drafts, next, responses, nil
}

// queueWithResponsesQuery is the queue's query (queueQuery) and the read
// of the open responses (responseSelect where openResponses holds) in one
// statement: a row per draft of the queue, in its order (n), the
// responses' rows as one JSON array on the first (open_responses, NULL
// when there are none). With no draft, the one row has only the
// responses, its draft's columns and n NULL. The responses' arguments
// come first.
func queueWithResponsesQuery(queue, openResponses string) string {
	return `
		SELECT q.*, CASE WHEN q.n IS NULL OR q.n = 1 THEN o.open_responses END AS open_responses
		FROM (SELECT json_agg(r ORDER BY r.created_at, r.id) AS open_responses
			FROM (` + responseSelect + ` WHERE ` + openResponses + `) AS r) AS o
		LEFT JOIN (SELECT d.*, row_number() OVER (ORDER BY d.created_at, d.id) AS n FROM (` + queue + `) AS d) AS q ON true
		ORDER BY q.n`
}

// queueRow is a row of queueWithResponsesQuery that holds a draft.
type queueRow struct {
	draftRow
	N             int64  `db:"n"`
	OpenResponses []byte `db:"open_responses"`
}

// queueWithResponses runs queueWithResponsesQuery and returns its drafts'
// rows and the responses' rows. A row's n and open_responses are read
// first, so the row without a draft is told apart before its NULL
// columns would be scanned as a draft's.
func (db *ReviewStore) queueWithResponses(ctx context.Context, query string, args []any) ([]draftRow, []responseRow, error) {
	rows, err := db.r.queryxContext(ctx, query, args...)
	if err != nil {
		return nil, nil, db.translate(fmt.Errorf("find review queue: %w", err))
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, err
	}
	var drafts []draftRow
	var open []responseRow
	for rows.Next() {
		var n *int64
		var js []byte
		peek := make([]any, len(cols))
		for i, c := range cols {
			switch c {
			case "n":
				peek[i] = &n
			case "open_responses":
				peek[i] = &js
			default:
				peek[i] = new(any)
			}
		}
		if err := rows.Scan(peek...); err != nil {
			return nil, nil, db.translate(fmt.Errorf("find review queue: %w", err))
		}
		if js != nil {
			if err := json.Unmarshal(js, &open); err != nil {
				return nil, nil, fmt.Errorf("client responses of the review queue: %w", err)
			}
		}
		if n != nil {
			var r queueRow
			if err := rows.StructScan(&r); err != nil {
				return nil, nil, db.translate(fmt.Errorf("find review queue: %w", err))
			}
			drafts = append(drafts, r.draftRow)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, db.translate(fmt.Errorf("find review queue: %w", err))
	}
	return drafts, open, nil
}

// queueDrafts returns the drafts of a queue's page of rows read at now,
// limit+1 at most (one more than the page says there is a next page, and
// its cursor), without their content: the queue says what waits, and a
// person reads a draft's text by opening it, which logs the read. Whether
// a draft needs a countersignature comes from the risk flag its completion
// stored, or, for a draft generated before the flag was stored, from its
// content opened with o.
func (db *ReviewStore) queueDrafts(ctx context.Context, o *openers, rows []draftRow, limit int, now time.Time) ([]*review.Draft, string, error) {
	p := db.policy()
	var next string
	if len(rows) > limit {
		rows = rows[:limit]
		next = "more"
	}
	drafts := make([]*review.Draft, len(rows))
	// Only drafts whose risk flag was not stored have their content read
	// (queueColumns); their keys are read for them alone.
	var unflagged []draftRow
	for i := range rows {
		if rows[i].Content != nil {
			unflagged = append(unflagged, rows[i])
		}
	}
	if err := preload(ctx, o, unflagged, func(r *draftRow) string { return r.CaseID }); err != nil {
		return nil, "", err
	}
	for i := range rows {
		d, err := rows[i].toDomain(ctx, o)
		if err != nil {
			return nil, "", err
		}
		flagged := review.FlagsRisk(d.Content)
		if f := rows[i].FlagsRisk; f != nil {
			flagged = *f
		}
		d.Content = nil
		d.CountersignRequired = d.Status == review.StatusAwaitingCountersign || p.NeedsCountersignFlagged(d.Kind, flagged)
		d.Overdue = p.Overdue(d, now)
		drafts[i] = d
	}
	if next != "" {
		next = encodeCursor(drafts[len(drafts)-1])
	}
	return drafts, next, nil
}

// queryxContext runs a read through a cached prepared statement, as
// SelectContext does, for a caller that scans its rows itself.
func (r *readDB) queryxContext(ctx context.Context, query string, args ...any) (*sqlx.Rows, error) {
	if s := r.stmts.get(r.DB, query); s != nil {
		return s.QueryxContext(ctx, args...)
	}
	return r.DB.QueryxContext(ctx, query, args...)
}
