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
