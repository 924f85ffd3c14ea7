package sqlstore

import (
	"context"
	"fmt"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/review"
)

// RetryDraft applies review.DecideRetry: a failed draft is queued again for
// the drafting workers, over the same notes, with its audit event. The
// client's consent is checked as for a new draft: a draft failed because
// consent was withdrawn stays failed.
func (db *ReviewStore) RetryDraft(ctx context.Context, id string) (*review.Draft, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	var d *review.Draft
	err = db.withTx(ctx, func(tx *Tx) error {
		// The case is locked before the draft, in the order a consent
		// withdrawal takes them.
		cur, err := db.getDraft(ctx, tx, id, "")
		if err != nil {
			return err
		}
		if err := db.checkDraftAccess(ctx, tx, cur, true); err != nil {
			return err
		}
		if _, err := review.DecideRetry(a, cur); err != nil {
			return err // refused before any lock: nothing to apply
		}
		if err := db.checkConsent(ctx, tx, cur.CaseID); err != nil {
			return err
		}
		// checkConsent locked the case: a reviewer's retry, which
		// checkDraftAccess lets through, is refused in a closed case too.
		if err := db.checkOpen(ctx, tx, cur.CaseID); err != nil {
			return err
		}
		if d, err = db.lockDraft(ctx, tx, id); err != nil {
			return err
		}
		res, err := review.DecideRetry(a, d)
		if err != nil {
			return err
		}
		r, err := tx.ExecContext(ctx, tx.Rebind(`
			UPDATE drafts SET status = ?, run_after = ?, failure_reason = '', attempts = 0, lease_owner = '', lease_until = NULL, updated_at = ?
			WHERE id = ? AND status = `+stFailed), string(res.Status), tx.now, tx.now, d.ID)
		if err != nil {
			return fmt.Errorf("retry draft: %w", err)
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return countersign.Errorf(countersign.ECONFLICT, "This draft cannot be tried again: it is no longer failed.")
		}
		d.Status, d.FailureReason, d.Attempts, d.UpdatedAt = res.Status, "", 0, tx.now
		return tx.apply(ctx, res.Events)
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}
