package sqlstore

import "context"

// ShredCaseKey runs shredCaseKey in a transaction of its own, for the
// tests of package sqlstore_test (erasure calls it in its own).
func (db *DB) ShredCaseKey(ctx context.Context, caseID string) (n int, err error) {
	err = db.withTx(ctx, func(tx *Tx) error {
		n, err = shredCaseKey(ctx, tx, caseID)
		return err
	})
	return n, err
}
