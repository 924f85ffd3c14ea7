package sqlstore

// AfterRememberedDecision has f run each time a sign-off of draftID
// decided on what its actor's read of the draft left in this handle
// (signOffRemembered), with whether its fenced write wrote (false: the
// fence was lost, or the memory refused, and the sign-off then read), for
// the tests of package sqlstore_test that check which path it took.
func AfterRememberedDecision(draftID string, f func(written bool)) (undo func()) {
	afterRememberedDecision.Store(draftID, f)
	return func() { afterRememberedDecision.Delete(draftID) }
}

// AfterOpeningRead has f run between a first opening's read of draftID
// and its writes (OpenDraft), for the tests of package sqlstore_test that
// change the draft meanwhile.
func AfterOpeningRead(draftID string, f func()) (undo func()) {
	afterOpeningRead.Store(draftID, f)
	return func() { afterOpeningRead.Delete(draftID) }
}
