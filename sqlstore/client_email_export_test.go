package sqlstore

// OnEmailOpened has f told of each party whose e-mail db opens to sign a
// client in by e-mail or to index it (accountsByEmail, indexEmails), for
// the tests of package sqlstore_test that count them.
func OnEmailOpened(db *DB, f func(partyID string)) (undo func()) {
	onEmailOpened.Store(db.conn, f)
	return func() { onEmailOpened.Delete(db.conn) }
}
