package main

import (
	"sync/atomic"

	"github.com/countersign/countersign/api"
)

// The switch of `countersign bench --mode reads --unlogged-reads`: while it
// is set, the in-process server's store serves staff reads without writing
// their access event (sqlstore's BenchReadLogSwitch, the one place every
// read's event is decided). Only the benchmark builds it; the service has
// no such setting.
func init() {
	installReadLogSwitch = func(m *Main) *atomic.Bool {
		off := new(atomic.Bool)
		m.benchHook = func(*api.Server) { m.DB.BenchReadLogSwitch(off) }
		return off
	}
}
