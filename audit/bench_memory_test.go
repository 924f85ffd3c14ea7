package audit_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/internal/memsample"
)

// writeExportFile streams an export of n test events to a file, header
// first (the checkpoint is signed over the head after n events, so the
// events are generated twice: once for the head, once for the lines).
func writeExportFile(b *testing.B, path string, n int, l *testLog) {
	b.Helper()
	h := audit.NewHead()
	for i := range n {
		if _, err := h.Append(testEvent(i)); err != nil {
			b.Fatal(err)
		}
	}
	cp, err := audit.SignCheckpoint(l.signer, testOrigin, h)
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := audit.NewWriter(f)
	if err := w.WriteHeader(audit.Header{Origin: testOrigin, Size: h.Size, Checkpoint: string(cp.Note)}); err != nil {
		b.Fatal(err)
	}
	h = audit.NewHead()
	for i := range n {
		e := testEvent(i)
		if _, err := h.Append(e); err != nil {
			b.Fatal(err)
		}
		if err := w.WriteEvent(e); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
}

// cpuTime returns the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkVerifyOfflineMemory verifies exports of 1M and 4M events read
// from a file, as `countersign audit verify --file` does, and reports the
// peak heap in use during verification (sampled every 10 ms) next to
// the throughput: memory must stay flat as the log grows. The export files
// (about 330 MB per million events) are written to a temporary directory
// first. Run it on its own: go test -run X -bench VerifyOfflineMemory -benchtime 1x ./audit
func BenchmarkVerifyOfflineMemory(b *testing.B) {
	l := mustBuildLog(b, 0)
	for _, n := range []int{1_000_000, 4_000_000} {
		b.Run(fmt.Sprintf("events=%dM", n/1_000_000), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "export.ndjson")
			writeExportFile(b, path, n, l)
			v := &audit.Verifier{Origin: testOrigin, Keys: l.keys}
			var peak atomic.Uint64
			for b.Loop() {
				runtime.GC()
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				stop := memsample.PeakHeap(&peak)
				cpu0 := cpuTime()
				rep, err := v.VerifyExport(context.Background(), bufio.NewReaderSize(f, 1<<20))
				cpu := cpuTime() - cpu0
				stop()
				f.Close()
				if err != nil || !rep.OK || rep.Events != uint64(n) {
					b.Fatalf("%+v %v", rep, err)
				}
				b.ReportMetric(float64(n)/cpu.Seconds(), "events/cpu-s")
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
		})
	}
}
