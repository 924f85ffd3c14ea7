package main

import (
	"testing"
	"time"

	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestMain migrates each dialect once, into the template every test's
// database is copied from.
func TestMain(m *testing.M) { storetest.Main(m) }

// patience is how long a test waits for what the service does in the
// background (start up, generate a draft, take over a dead process's
// lease) before it fails. It is a safety net, not a measure: the tests
// wait for the condition itself, which on a quiet machine takes well under
// a second, and a machine busy enough to need minutes has a problem worth
// a failure.
const patience = 2 * time.Minute
