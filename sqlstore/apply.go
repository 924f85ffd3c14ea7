package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/countersign/countersign/audit"
)

// apply appends the audit events a domain decision returned, in the
// transaction that applies the decision's change: one INSERT of every
// event (a round trip, not one per event; an approval has two or three),
// in their order, so the sequencer gives them their places in that order.
func (tx *Tx) apply(ctx context.Context, events []audit.Record) error {
	switch len(events) {
	case 0:
		return nil
	case 1:
		e := events[0]
		return tx.record(ctx, e.Actor, e.Action, e.SubjectType, e.SubjectID, e.CaseID, e.Payload)
	}
	args := make([]any, 0, len(events)*pendingValues)
	for _, e := range events {
		row, err := tx.db.pendingRow(tx.now, e.Actor, e.Action, e.SubjectType, e.SubjectID, e.CaseID, e.Payload)
		if err != nil {
			return err
		}
		args = append(args, row...)
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(insertPendingRows(len(events))), args...); err != nil {
		return fmt.Errorf("record %s and %d more: %w", events[0].Action, len(events)-1, err)
	}
	tx.audited = true
	return nil
}

// pendingValues is the number of values of a pendingRow.
const pendingValues = 10

// insertPendingRows is the INSERT of n pendingRows, in their order (the
// id of audit_pending follows the VALUES' order on both databases).
func insertPendingRows(n int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", pendingValues), ", ") + ")"
	return `INSERT INTO audit_pending (` + pendingColumns + `) VALUES ` + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// write is one statement of a transaction's writes (tx.writes), with what
// its count of rows changed must satisfy (check, nil for anything).
type write struct {
	query string
	args  []any
	check func(rows int64) error
	// audited: the statement appends audit events.
	audited bool
	// fenced, when not nil, is the query writing only where a condition
	// holds (fencedWrites), for a query gated cannot rewrite.
	fenced func(cond string) string
}

// writes runs ws in their order, on PostgreSQL as one statement of
// data-modifying CTEs (one round trip however many there are), elsewhere
// one by one. A unique violation is conflict, which says what the
// statement lost to; any check that fails returns its error, and the
// caller rolls the transaction back. Each statement sees the database as
// it was before the batch: none may read what another one writes.
func (tx *Tx) writes(ctx context.Context, conflict error, ws ...write) error {
	fail := func(err error) error {
		if isConflict(tx.db.translate(err)) && conflict != nil {
			return conflict
		}
		return fmt.Errorf("write %d statements: %w", len(ws), err)
	}
	counts := make([]int64, len(ws))
	if tx.db.dialect.writableCTE() && len(ws) > 1 {
		// Through tx's cached prepared statements, as every write's
		// statement: one round trip, where an unprepared one takes two.
		queries := make([]string, len(ws))
		var args []any
		for i, w := range ws {
			queries[i] = strings.TrimSpace(w.query)
			args = append(args, w.args...)
		}
		var rows []writeCount
		if err := tx.SelectContext(ctx, &rows, tx.Rebind(cteWrites(nil, queries)), args...); err != nil {
			return fail(err)
		}
		for _, r := range rows {
			counts[r.I] = r.N
		}
	} else {
		for i, w := range ws {
			res, err := tx.ExecContext(ctx, tx.Rebind(w.query), w.args...)
			if err != nil {
				return fail(err)
			}
			if counts[i], err = res.RowsAffected(); err != nil {
				return err
			}
		}
	}
	audited, err := checkWrites(ws, counts)
	tx.audited = tx.audited || audited
	return err
}

// cteWrites is the one statement of data-modifying CTEs that runs queries
// in their order after the CTEs of before (which write nothing), each
// query as w<i>; it returns a row (i, n) per query: the rows it wrote.
func cteWrites(before, queries []string) string {
	with := slices.Clone(before)
	sel := make([]string, len(queries))
	for i, q := range queries {
		with = append(with, fmt.Sprintf("w%d AS (%s RETURNING 1)", i, q))
		sel[i] = fmt.Sprintf("SELECT %d AS i, COUNT(*) AS n FROM w%d", i, i)
	}
	return "WITH " + strings.Join(with, ",\n") + "\n" + strings.Join(sel, "\nUNION ALL ")
}

// writeCount is a row of cteWrites: how many rows write i wrote.
type writeCount struct {
	I int   `db:"i"`
	N int64 `db:"n"`
}

// checkWrites runs the checks of ws on the rows each wrote, and says
// whether any of them appended audit events.
func checkWrites(ws []write, counts []int64) (audited bool, err error) {
	for i, w := range ws {
		audited = audited || w.audited
		if w.check != nil {
			if err := w.check(counts[i]); err != nil {
				return audited, err
			}
		}
	}
	return audited, nil
}

// eventsWrite is apply as a write: the INSERT of the events' pending
// rows, in their order.
func (tx *Tx) eventsWrite(events []audit.Record) (write, error) {
	args := make([]any, 0, len(events)*pendingValues)
	for _, e := range events {
		row, err := tx.db.pendingRow(tx.now, e.Actor, e.Action, e.SubjectType, e.SubjectID, e.CaseID, e.Payload)
		if err != nil {
			return write{}, err
		}
		args = append(args, row...)
	}
	n := len(events)
	return write{query: insertPendingRows(n), args: args, audited: true, fenced: func(cond string) string {
		return insertPendingRowsWhere(n, cond)
	}}, nil
}

// insertPendingRowsWhere is insertPendingRows inserting only where cond
// holds, in the VALUES' order still. The rows are a VALUES list in FROM,
// whose values are text unless cast: nonce and mac are bytea.
func insertPendingRowsWhere(n int, cond string) string {
	row := "(" + strings.Repeat("?, ", pendingValues-2) + "?::bytea, ?::bytea)"
	return `INSERT INTO audit_pending (` + pendingColumns + `) SELECT * FROM (VALUES ` +
		strings.TrimSuffix(strings.Repeat(row+", ", n), ", ") + `) AS v WHERE ` + cond
}

// fence is what a decision written without a transaction read, and its
// write checks under the rows' locks: the case's row and the row its
// first write updates (the draft), each at the version read (xmin: any
// update of a row since, a closure or an erasure of the case, another
// decision on the draft, gives it another).
type fence struct {
	caseID, caseVersion, rowVersion string
}

// errFenceLost is returned by fencedWrites when its first write changed
// nothing (with a fence: the case or the row changed since they were
// read): nothing was written.
var errFenceLost = errors.New("the rows read changed before the write")

// fencedWrites runs ws on PostgreSQL as one statement outside a
// transaction (it commits alone, all of it or nothing). Every write after
// the first happens only if the first changed a row (an UPDATE gets the
// condition added to its WHERE; a one-row INSERT ... VALUES becomes INSERT
// ... SELECT ... WHERE the condition; pendingRows are built gated by
// eventsWrite): a first write that changes nothing (an INSERT ... ON
// CONFLICT DO NOTHING that lost, an UPDATE whose row moved on) writes
// nothing at all, and the error is errFenceLost.
//
// With a fence f (nil: none), ws[0] must be an UPDATE; the statement locks
// the case first (FOR NO KEY UPDATE, as a decision's read does, in the
// order closing and erasure lock a case and then its drafts), and ws[0]
// writes only if the case is still at f.caseVersion and its row at
// f.rowVersion. A fence without a rowVersion holds the case alone, and
// ws[0] may then be a one-row INSERT (a draft request's). The versions
// are checked on the rows' newest versions once locked, so a change
// committed after the read and before the lock loses the fence too; the
// caller then decides again in a transaction.
// A unique violation is conflict.
func (db *conn) fencedWrites(ctx context.Context, f *fence, conflict error, ws ...write) error {
	if len(ws) == 0 || f != nil && f.rowVersion != "" && !strings.HasPrefix(strings.TrimSpace(ws[0].query), "UPDATE ") {
		return fmt.Errorf("fenced writes: the first write must be an UPDATE")
	}
	var before, queries []string
	var args []any
	if f != nil {
		before, args = []string{"f AS (SELECT 1 FROM cases WHERE id = ? AND xmin = ?::xid FOR NO KEY UPDATE)"}, []any{f.caseID, f.caseVersion}
	}
	for i, w := range ws {
		q, wargs := strings.TrimSpace(w.query), w.args
		var err error
		switch {
		case i > 0:
			q, err = gated(w, "EXISTS (SELECT 1 FROM w0)")
		case f != nil && f.rowVersion == "":
			q, err = gated(w, "EXISTS (SELECT 1 FROM f)")
		case f != nil:
			q, err = gated(w, "xmin = ?::xid AND EXISTS (SELECT 1 FROM f)")
			wargs = append(append([]any(nil), w.args...), f.rowVersion)
		}
		if err != nil {
			return err
		}
		queries = append(queries, q)
		args = append(args, wargs...)
	}
	return db.runCTEWrites(ctx, cteWrites(before, queries), args, ws, conflict, nil)
}

// runCTEWrites runs query, a statement of cteWrites over ws (which may add
// rows of its own, numbered below 0, given to extra), then ws' checks on
// the rows each wrote. errFenceLost when the first wrote nothing; conflict,
// when set, for a conflict the database reported.
func (db *conn) runCTEWrites(ctx context.Context, query string, args []any, ws []write, conflict error, extra func(writeCount)) error {
	var rows []writeCount
	if err := db.selectOnWriter(ctx, &rows, db.w.Rebind(query), args...); err != nil {
		if isConflict(db.translate(err)) && conflict != nil {
			return conflict
		}
		return db.translate(fmt.Errorf("write %d fenced statements: %w", len(ws), err))
	}
	counts := make([]int64, len(ws))
	for _, r := range rows {
		if r.I < 0 {
			extra(r)
			continue
		}
		counts[r.I] = r.N
	}
	if counts[0] == 0 {
		return errFenceLost
	}
	// Committed: a check that fails now reports what happened.
	audited, err := checkWrites(ws, counts)
	if audited {
		db.wakeSequencer()
	}
	return err
}

// gated returns w's query writing only where cond holds (fencedWrites).
func gated(w write, cond string) (string, error) {
	q := strings.TrimSpace(w.query)
	if w.fenced != nil {
		return w.fenced(cond), nil
	}
	switch {
	case strings.HasPrefix(q, "UPDATE ") && strings.Contains(q, "WHERE "):
		return q + " AND " + cond, nil
	case strings.HasPrefix(q, "INSERT INTO "):
		// One row: INSERT INTO t (columns) VALUES (values).
		head, values, ok := strings.Cut(q, "VALUES")
		values = strings.TrimSpace(values)
		if ok && strings.HasPrefix(values, "(") && strings.HasSuffix(values, ")") && strings.Count(values, "(") == 1 {
			return head + "SELECT " + values[1:len(values)-1] + " WHERE " + cond, nil
		}
	}
	return "", fmt.Errorf("fenced writes: cannot fence %.40q", q)
}
