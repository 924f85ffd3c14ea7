package storetest

import (
	"testing"

	"github.com/countersign/countersign/internal/sealbox"
	"github.com/countersign/countersign/sqlstore"
)

// MustOpenRaw opens a text read raw from the database, in place w of the
// case caseID, with the case's key unwrapped by CaseKeys: what a test that
// reads a sealed column as stored compares with what was written. A text
// that is not sealed is returned as it is.
func MustOpenRaw(t testing.TB, db *sqlstore.DB, caseID string, w sealbox.Where, raw string) string {
	t.Helper()
	if !sealbox.IsSealed(raw) {
		return raw
	}
	var k struct {
		KeyID   string `db:"key_id"`
		Master  string `db:"master_key_id"`
		Wrapped []byte `db:"wrapped_key"`
	}
	if err := db.Raw().Get(&k, db.Raw().Rebind(`SELECT key_id, master_key_id, wrapped_key FROM case_keys WHERE case_id = ?`), caseID); err != nil {
		t.Fatalf("the key of case %s: %v", caseID, err)
	}
	dek, err := CaseKeys.Unwrap(k.Master, caseID, k.KeyID, k.Wrapped)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := sealbox.NewCaseKey(dek)
	if err != nil {
		t.Fatal(err)
	}
	text, err := ck.Open(w, raw)
	if err != nil {
		t.Fatalf("open %s.%s of %s: %v", w.Table, w.Column, w.Row, err)
	}
	return text
}
