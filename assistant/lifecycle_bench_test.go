package assistant

import (
	"context"
	"testing"
	"time"

	"github.com/countersign/countersign/assistant/stakes"
)

// BenchmarkDraftLifecycle is the draft of one lifecycle of `countersign
// bench` as the service makes it: a summary of the bench's note by the
// offline drafter, with the demo's referral directory (cmd/countersign,
// demo.go) and the case's client, the note written just before.
func BenchmarkDraftLifecycle(b *testing.B) {
	directory := []Service{
		{ID: "budget-advice", Name: "Budget advice service", Description: "budget debt arrears rent bills money advice"},
		{ID: "energy-fund", Name: "Energy solidarity fund", Description: "energy heating electricity gas bills fund"},
		{ID: "meal-delivery", Name: "Meal delivery", Description: "meals food skips meals nutrition"},
	}
	d := &Drafter{Model: Extractive{}, Directory: directory, Now: func() time.Time { return testNow }}
	req := Request{Kind: KindSummary, Notes: []Note{{ID: "note_1", Body: benchNote, WrittenAt: testNow.Add(-time.Second)}},
		Parties: []Party{{ID: "pty_1", Role: "client", FullName: "Marie Dubois"}}}
	stakes.Default()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Draft(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}
