package web_test

import (
	"testing"

	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestMain migrates each dialect once, into the template every test's
// database is copied from.
func TestMain(m *testing.M) { storetest.Main(m) }
