package sqlstore

import "github.com/countersign/countersign/casefile"

// DraftPrediction is what a handle predicts of a read of a draft
// (draftScope), for the tests of package sqlstore_test.
type DraftPrediction = draftScope

// MisPredict changes what db predicts of draft id (the draft's inputs,
// then its case's read scope) as change says, and reports whether db
// predicted anything of it, for the tests of package sqlstore_test that
// check a stale prediction writes nothing.
func MisPredict(db *DB, id string, change func(*DraftPrediction, *casefile.ReadScope)) bool {
	p, ok := db.scopes.getDraft(id)
	if !ok {
		return false
	}
	s, ok := db.scopes.get(p.CaseID)
	if !ok {
		return false
	}
	caseID := p.CaseID
	change(&p, &s)
	db.scopes.putDraft(id, p)
	db.scopes.put(caseID, s)
	return true
}
