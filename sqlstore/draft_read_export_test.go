package sqlstore

// AfterDraftReadLogged has f run each time a read of draftID wrote its
// access event in the statement that read the draft (readDraftLogged), for
// the tests of package sqlstore_test that check which path a read took.
func AfterDraftReadLogged(draftID string, f func()) (undo func()) {
	afterDraftReadLogged.Store(draftID, f)
	return func() { afterDraftReadLogged.Delete(draftID) }
}
