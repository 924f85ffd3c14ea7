// Package memsample measures the peak heap of a piece of work, for the
// benchmarks that show memory stays flat as the audit log grows.
package memsample

import (
	"runtime"
	"sync/atomic"
	"time"
)

// PeakHeap records in peak the largest heap in use, sampled every 10 ms
// (each sample stops the world, so not more often), until stop is called.
func PeakHeap(peak *atomic.Uint64) (stop func()) {
	done, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-sampled }
}
