package sqlstore

import "context"

// shredCaseKey destroys, in tx, the key that encrypts caseID's text at
// rest, so that no copy of the database (a backup included) opens that
// case's text again; it returns how many keys it destroyed. Erasure calls
// it in the transaction that writes case.erased.
//
// Contract between the retention work (which calls it) and the per-case
// keys work (which fills it in, in this file).
func shredCaseKey(ctx context.Context, tx *Tx, caseID string) (int, error) {
	return 0, nil
}
