package sqlstore_test

import (
	"context"
	"os"
	"testing"

	"github.com/countersign/countersign/sqlstore"
)

// statementCounter counts, with pg_stat_statements, the statements a path
// makes in the test's own database. Without the extension loaded
// (shared_preload_libraries) the test is skipped, unless
// COUNTERSIGN_TEST_PG_STAT_STATEMENTS=required (set by .ci/run, which
// loads it), where it fails: a count that CI never makes proves nothing.
type statementCounter struct {
	t  *testing.T
	db *sqlstore.DB
}

func countStatements(t *testing.T, db *sqlstore.DB) *statementCounter {
	t.Helper()
	if _, err := db.Raw().ExecContext(context.Background(), `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		statementsMissing(t, err)
	}
	c := &statementCounter{t: t, db: db}
	c.reset()
	return c
}

func statementsMissing(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("COUNTERSIGN_TEST_PG_STAT_STATEMENTS") == "required" {
		t.Fatalf("pg_stat_statements: %v", err)
	}
	t.Skipf("pg_stat_statements: %v", err)
}

// reset forgets the statements counted so far.
func (c *statementCounter) reset() {
	c.t.Helper()
	if _, err := c.db.Raw().ExecContext(context.Background(),
		`SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)`); err != nil {
		statementsMissing(c.t, err)
	}
}

// calls returns how many statements naming one of tables (a regular
// expression's alternatives) ran since the last reset: the sequencer's
// work on the log's tables is not counted when they are not named.
func (c *statementCounter) calls(tables string) int {
	c.t.Helper()
	var n int
	if err := c.db.Raw().GetContext(context.Background(), &n, `SELECT COALESCE(SUM(calls), 0) FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND query ~ ('\m(' || $1 || ')\M')`, tables); err != nil {
		c.t.Fatal(err)
	}
	return n
}
