package stakes_test

import (
	"testing"

	"github.com/countersign/countersign/assistant/stakes"
)

// BenchmarkDetect reads the sentences of the labelled set one after another.
func BenchmarkDetect(b *testing.B) {
	cases := stakes.LabelledSet()
	stakes.Default()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		stakes.Detect(cases[i%len(cases)].Text)
	}
}
