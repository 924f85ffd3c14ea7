package sqlstore_test

import (
	"testing"

	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestCaseload runs the caseload's conformance tests on SQLite and PostgreSQL.
func TestCaseload(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Dialects() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			storetest.ExerciseCaseload(t, open)
			storetest.ExerciseCaseMove(t, open, sqlstore.AfterDecisionRead)
		})
	}
}
