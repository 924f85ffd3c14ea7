package sqlstore

import (
	"context"

	"github.com/countersign/countersign/audit"
)

// apply appends the audit events a domain decision returned, in the
// transaction that applies the decision's change.
func (tx *Tx) apply(ctx context.Context, events []audit.Record) error {
	for _, e := range events {
		if err := tx.record(ctx, e.Actor, e.Action, e.SubjectType, e.SubjectID, e.CaseID, e.Payload); err != nil {
			return err
		}
	}
	return nil
}
