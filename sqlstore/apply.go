package sqlstore

import (
	"context"
	"fmt"
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
		var with, sel []string
		var args []any
		for i, w := range ws {
			with = append(with, fmt.Sprintf("w%d AS (%s RETURNING 1)", i, strings.TrimSpace(w.query)))
			sel = append(sel, fmt.Sprintf("SELECT %d AS i, COUNT(*) AS n FROM w%d", i, i))
			args = append(args, w.args...)
		}
		var rows []struct {
			I int   `db:"i"`
			N int64 `db:"n"`
		}
		q := "WITH " + strings.Join(with, ",\n") + "\n" + strings.Join(sel, "\nUNION ALL ")
		if err := tx.SelectContext(ctx, &rows, tx.Rebind(q), args...); err != nil {
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
	for i, w := range ws {
		if w.audited {
			tx.audited = true
		}
		if w.check != nil {
			if err := w.check(counts[i]); err != nil {
				return err
			}
		}
	}
	return nil
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
	return write{query: insertPendingRows(len(events)), args: args, audited: true}, nil
}
