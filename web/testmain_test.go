package web_test

import (
	"testing"
	"time"

	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestMain migrates each dialect once, into the template every test's
// database is copied from, and stops the browser tests' Chromium when they
// are done (see newChromium).
func TestMain(m *testing.M) { storetest.MainThen(m, stopChromium) }

// patience bounds each browser step, which waits for what it needs (an
// element, a navigation): a safety net for a busy machine, not a measure.
const patience = 2 * time.Minute
