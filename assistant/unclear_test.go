package assistant

import (
	"context"
	"slices"
	"testing"
)

// TestUnclearIsShownNotHighStakes: a statement the detector can place
// neither as high-stakes nor as ordinary reads CategoryUnclear (Read, and
// the draft's statements, with the words that made it so), while Categorize, which the drafters and the
// review rules ask "is this high-stakes?", reads "" for it; the unclear
// category never outranks one of the four.
func TestUnclearIsShownNotHighStakes(t *testing.T) {
	t.Parallel()
	unclear := "Her phone was taken by the zorbquax."
	ordinary := "She has an appointment at the housing office on Monday."
	if got := Read(unclear); got != CategoryUnclear {
		t.Errorf("Read(%q) = %q, want %q", unclear, got, CategoryUnclear)
	}
	if got := Categorize(unclear); got != "" {
		t.Errorf("Categorize(%q) = %q, want \"\"", unclear, got)
	}
	if got := Read(ordinary); got != "" {
		t.Errorf("Read(%q) = %q, want \"\"", ordinary, got)
	}
	if got := Stricter(CategoryUnclear, CategoryHealth); got != CategoryHealth {
		t.Errorf("Stricter(unclear, health) = %q", got)
	}
	answer := `{"language":"en","statements":[` +
		`{"id":"s1","text":"Her phone was taken by the zorbquax.","category":"","citations":[{"note_id":"n1","quote":"Her phone was taken by the zorbquax."}]},` +
		`{"id":"s2","text":"She has an appointment at the housing office on Monday.","category":"","citations":[{"note_id":"n1","quote":"She has an appointment at the housing office on Monday."}]}]}`
	var prompts []*Prompt
	d := &Drafter{Model: &funcModel{onPrem: true, GenerateFunc: answers(&prompts, answer)}}
	res, err := d.Draft(context.Background(), Request{Kind: KindSummary, Notes: []Note{{ID: "n1", Body: unclear + " " + ordinary}}})
	if err != nil {
		t.Fatal(err)
	}
	if st := res.Content.Statements[0]; st.Category != CategoryUnclear || !slices.Equal(st.UnclearWords, []string{"zorbquax"}) {
		t.Errorf("statement %q: category %q, words %q; want %q with the word the reviewer should look at", unclear, st.Category, st.UnclearWords, CategoryUnclear)
	}
	if st := res.Content.Statements[1]; st.Category != "" || st.UnclearWords != nil {
		t.Errorf("statement %q: category %q, words %q; want none", ordinary, st.Category, st.UnclearWords)
	}
}
