package sqlstore

// AfterDecisionRead has f run between the unlocked read and the fenced
// write of a sign-off of draftID (signOffByStatement), for the tests of
// package sqlstore_test that change the case or the draft meanwhile.
func AfterDecisionRead(draftID string, f func()) (undo func()) {
	afterDecisionRead.Store(draftID, f)
	return func() { afterDecisionRead.Delete(draftID) }
}

// AfterRequestRead has f run between the unlocked reads and the fenced
// write of a draft request in caseID (requestByStatement), for the tests
// of package sqlstore_test that change the case or its consent meanwhile.
func AfterRequestRead(caseID string, f func()) (undo func()) {
	afterRequestRead.Store(caseID, f)
	return func() { afterRequestRead.Delete(caseID) }
}
