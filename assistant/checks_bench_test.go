package assistant

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/assistant/stakes"
)

// benchNote is the note of `countersign bench` (cmd/countersign, bench.go):
// one lifecycle drafts a summary of it with the offline drafter.
const benchNote = "Home visit. The client reports two months of rent arrears and asks for help with the energy bill; an appointment is set for 14 December 2026."

// languageNotes are longer notes in the four languages of the tests: the
// sentences of the detector's labelled set (stakes/testdata/gate.tsv) in
// each language, ordinary and high-stakes alike, one note per language, in
// paragraphs of five sentences.
func languageNotes() map[string]string {
	byLang := map[string][]string{}
	for _, c := range stakes.LabelledSet() {
		byLang[c.Language] = append(byLang[c.Language], c.Text)
	}
	out := map[string]string{}
	for lang, ss := range byLang {
		var b strings.Builder
		for i, s := range ss {
			if i > 0 {
				if i%5 == 0 {
					b.WriteString("\n")
				} else {
					b.WriteString(" ")
				}
			}
			b.WriteString(s)
		}
		out[lang] = b.String()
	}
	return out
}

// BenchmarkDrafterChecks measures one draft with the offline drafter, the
// draft of the lifecycle bench: the service's own checks (the high-stakes
// detector, grounding, dates) and the extractive model's picking of
// sentences, on the bench's note and on a long note in each language.
func BenchmarkDrafterChecks(b *testing.B) {
	d := &Drafter{Model: Extractive{}, Now: func() time.Time { return testNow }}
	run := func(name string, kind Kind, body string) {
		b.Run(name, func(b *testing.B) {
			req := Request{Kind: kind, Notes: []Note{{ID: "note_1", Body: body, WrittenAt: testNow}}}
			stakes.Default()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.Draft(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	run("bench-note", KindSummary, benchNote)
	notes := languageNotes()
	for _, lang := range []string{"en", "fr", "nl", "de"} {
		run("summary-"+lang, KindSummary, notes[lang])
	}
	for _, lang := range []string{"en", "fr", "nl", "de"} {
		run("suggestions-"+lang, KindSuggestions, notes[lang])
	}
}
