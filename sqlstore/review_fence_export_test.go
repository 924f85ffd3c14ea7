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

// AfterRequestPredicted has f run each time a draft request in caseID
// decided on what the handle kept of the case and its notes
// (predictRequest), told whether its fenced write wrote, for the tests of
// package sqlstore_test that check which path a request took.
func AfterRequestPredicted(caseID string, f func(written bool)) (undo func()) {
	afterRequestPredicted.Store(caseID, f)
	return func() { afterRequestPredicted.Delete(caseID) }
}
