package sqlstore_test

import (
	"testing"

	"github.com/countersign/countersign/sqlstore/storetest"
)

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, storetest.SQLiteDSN)
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, storetest.PostgresDSN)
}
