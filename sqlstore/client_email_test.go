package sqlstore_test

import (
	"testing"

	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestClientEmailIndex runs the tests of the e-mail's blind index that the
// client's sign-in reads, on SQLite and PostgreSQL.
func TestClientEmailIndex(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Dialects() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			storetest.ExerciseClientEmailIndex(t, open, sqlstore.OnEmailOpened)
		})
	}
}
