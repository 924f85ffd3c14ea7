package sqlstore

import (
	"context"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/review"
)

// ClaimHinted claims the draft id with the claim hint db keeps for it
// (claimByHint), as the worker woken for it does, but without taking the
// hint, so that several workers may claim with one, and without the read
// a stale hint falls back to: ENOTFOUND when db keeps no hint for the
// draft or the hinted claim claims nothing. For the tests of package
// sqlstore_test.
func ClaimHinted(ctx context.Context, db *DB, owner string, lease time.Duration, id string) (*review.Job, error) {
	h, ok := claimHints().Peek(hintKey{db.conn, id})
	if !ok {
		return nil, countersign.Errorf(countersign.ENOTFOUND, "No claim hint is kept for this draft.")
	}
	job, claimed, err := db.claimByHint(ctx, owner, lease, h.v)
	if err == nil && !claimed {
		err = countersign.Errorf(countersign.ENOTFOUND, "The hinted claim claimed nothing.")
	}
	return job, err
}

// HasClaimHint reports whether db keeps a claim hint for the draft id.
func HasClaimHint(db *DB, id string) bool {
	return claimHints().Contains(hintKey{db.conn, id})
}
