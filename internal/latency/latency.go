// Package latency summarises measured durations, for `countersign bench`
// and the Go benchmarks that report percentiles.
package latency

import (
	"slices"
	"time"
)

// QuantileMS returns the p-quantile (0 ≤ p ≤ 1) of sorted durations in
// milliseconds, or 0 when there are none.
func QuantileMS(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[min(len(sorted)-1, int(p*float64(len(sorted))))].Microseconds()) / 1000
}

// Report sorts ds and reports its p50 and p99 in milliseconds as metrics of
// b (a *testing.B).
func Report(b interface{ ReportMetric(float64, string) }, ds []time.Duration) {
	slices.Sort(ds)
	b.ReportMetric(QuantileMS(ds, 0.5), "p50-ms")
	b.ReportMetric(QuantileMS(ds, 0.99), "p99-ms")
}
