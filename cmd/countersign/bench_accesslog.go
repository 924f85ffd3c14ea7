package main

import (
	"context"
	"sync/atomic"

	"github.com/countersign/countersign/api"
	"github.com/countersign/countersign/client"
)

// The switch of `countersign bench --mode reads --unlogged-reads`: the
// in-process server's store of the client's file is wrapped so that, while
// the switch is set, a staff read is served without writing its access
// event. Only the benchmark builds it; the service has no such setting.
func init() {
	installReadLogSwitch = func(m *Main) *atomic.Bool {
		off := new(atomic.Bool)
		m.benchHook = func(s *api.Server) {
			files := s.Files
			if files == nil {
				files, _ = s.Cases.(client.FileStore)
			}
			if files == nil {
				// The service's own store of the client's file, which logs
				// the reads once the server is wired to it.
				files, _ = any(m.DB).(client.FileStore)
			}
			if files != nil {
				s.Files = unloggedReads{FileStore: files, off: off}
			}
		}
		return off
	}
}

// unloggedReads is a client.FileStore whose RecordRead does nothing while
// off is set.
type unloggedReads struct {
	client.FileStore
	off *atomic.Bool
}

func (u unloggedReads) RecordRead(ctx context.Context, r client.Read) error {
	if u.off.Load() {
		return nil
	}
	return u.FileStore.RecordRead(ctx, r)
}
