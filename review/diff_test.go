package review_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/review"
)

// apply rebuilds both texts' words from a diff.
func apply(ops []review.DiffOp) (from, to []string) {
	for _, op := range ops {
		w := strings.Fields(op.Text)
		if op.Op != review.OpInsert {
			from = append(from, w...)
		}
		if op.Op != review.OpDelete {
			to = append(to, w...)
		}
	}
	return from, to
}

func TestWordDiff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, a, b string
		want       []review.DiffOp
	}{
		{"Same", "a b c", "a  b\nc", []review.DiffOp{{"equal", "a b c"}}},
		{"BothEmpty", "", " ", []review.DiffOp{}},
		{"AllNew", "", "x y", []review.DiffOp{{"insert", "x y"}}},
		{"AllGone", "x y", "", []review.DiffOp{{"delete", "x y"}}},
		{"Replace", "she pays rent late", "she pays rent on time", []review.DiffOp{{"equal", "she pays rent"}, {"delete", "late"}, {"insert", "on time"}}},
		{"InsertMiddle", "a c", "a b c", []review.DiffOp{{"equal", "a"}, {"insert", "b"}, {"equal", "c"}}},
		{"DeleteMiddle", "a b c", "a c", []review.DiffOp{{"equal", "a"}, {"delete", "b"}, {"equal", "c"}}},
	} {
		got := review.WordDiff(tc.a, tc.b)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
	// Property: the diff rebuilds both texts, and adjacent runs differ in op.
	r := rand.New(rand.NewPCG(1, 2))
	vocab := []string{"a", "b", "c", "d", "e"}
	words := func() string {
		w := make([]string, r.IntN(30))
		for i := range w {
			w[i] = vocab[r.IntN(len(vocab))]
		}
		return strings.Join(w, " ")
	}
	for range 500 {
		a, b := words(), words()
		ops := review.WordDiff(a, b)
		from, to := apply(ops)
		if !slices.Equal(from, strings.Fields(a)) || !slices.Equal(to, strings.Fields(b)) {
			t.Fatalf("diff of %q -> %q does not rebuild them: %+v", a, b, ops)
		}
		for i := 1; i < len(ops); i++ {
			if ops[i].Op == ops[i-1].Op {
				t.Fatalf("unmerged runs in %+v", ops)
			}
		}
	}
	// Beyond the table bound the diff stays correct, if not minimal.
	big := strings.Repeat("x ", 3000)
	ops := review.WordDiff("start "+big+"end", "begin "+strings.Repeat("y ", 3000)+"end")
	from, to := apply(ops)
	if len(from) != 3002 || len(to) != 3002 {
		t.Fatalf("large diff lost words: %d, %d", len(from), len(to))
	}
}

func content() *assistant.Content {
	return &assistant.Content{Language: "en",
		Statements: []assistant.Statement{
			{ID: "s1", Text: "Marie has rent arrears."},
			{ID: "s2", Text: "Marie sometimes skips meals.", Category: assistant.CategoryHealth},
			{ID: "s3", Text: "There is a risk of eviction.", Category: assistant.CategoryRisk},
		},
		Items: []assistant.Item{{ID: "i1", Type: "action", Text: "Call the landlord."}, {ID: "i2", Type: "referral", Text: "Refer to budget advice."}},
	}
}

func confirmAll() []review.StatementDecision {
	return []review.StatementDecision{{ID: "s2", Action: "confirmed"}, {ID: "s3", Action: "confirmed"}}
}

func TestFinalize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		ap     review.Approval
		check  *review.VigilanceCheck
		fields []string // fields at fault; none when valid
		test   func(t *testing.T, f *review.Final)
	}{
		{name: "HighStakesUnconfirmed", ap: review.Approval{}, fields: []string{"statements"}},
		{name: "OneHighStakesLeft", ap: review.Approval{Statements: confirmAll()[:1]}, fields: []string{"statements"}},
		{name: "AsDrafted", ap: review.Approval{Statements: confirmAll()}, test: func(t *testing.T, f *review.Final) {
			if f.Edited || f.EditRatio != 0 || f.Text != content().Text() || f.Vigilance != "" {
				t.Fatalf("%+v", f)
			}
		}},
		{name: "RemovedStatementAndRejectedItem", ap: review.Approval{
			Statements: []review.StatementDecision{{ID: "s2", Action: "removed", ReasonCode: "privacy"}, {ID: "s3", Action: "confirmed"}},
			Items:      []review.ItemDecision{{ID: "i1", Accepted: false, ReasonCode: "other"}}}, test: func(t *testing.T, f *review.Final) {
			if !f.Edited || strings.Contains(f.Text, "meals") || strings.Contains(f.Text, "landlord") || !strings.Contains(f.Text, "budget") {
				t.Fatalf("%+v", f)
			}
		}},
		{name: "UnknownIDs", ap: review.Approval{Statements: append(confirmAll(), review.StatementDecision{ID: "s9", Action: "removed"}),
			Items: []review.ItemDecision{{ID: "i1", Accepted: true}, {ID: "i9"}}}, fields: []string{"statements[2].id", "items[1].id"}},
		{name: "Repeated", ap: review.Approval{Statements: append(confirmAll(), review.StatementDecision{ID: "s2", Action: "removed"}),
			Items: []review.ItemDecision{{ID: "i1", Accepted: true}, {ID: "i1"}}}, fields: []string{"statements[2].id", "items[1].id"}},
		{name: "BadCodes", ap: review.Approval{Content: "x", ReasonCode: "whim", Statements: []review.StatementDecision{{ID: "s2", Action: "kept"}, {ID: "s3", Action: "confirmed", ReasonCode: "whim"}}},
			fields: []string{"reason_code", "statements[0].action", "statements[1].reason_code"}},
		{name: "BlankEdit", ap: review.Approval{Content: "  ", Statements: confirmAll()}, fields: []string{"content"}},
		{name: "HugeEdit", ap: review.Approval{Content: strings.Repeat("a", review.MaxContentBytes+1), Statements: confirmAll()}, fields: []string{"content"}},
		{name: "NothingLeft", ap: review.Approval{Statements: []review.StatementDecision{{ID: "s1", Action: "removed"}, {ID: "s2", Action: "removed"}, {ID: "s3", Action: "removed"}},
			Items: []review.ItemDecision{{ID: "i1"}, {ID: "i2"}}}, fields: []string{"statements"}},
		{name: "Edited", ap: review.Approval{Content: "Marie has no rent arrears.", ReasonCode: "factual_error", Statements: confirmAll()}, test: func(t *testing.T, f *review.Final) {
			if !f.Edited || f.EditRatio <= 0 || f.EditRatio > 1 || len(f.Diff) == 0 {
				t.Fatalf("%+v", f)
			}
		}},
		{name: "VigilanceMissed", ap: review.Approval{Statements: confirmAll()}, check: &review.VigilanceCheck{StatementID: "s1", Text: "Marie has rent arrears."},
			test: func(t *testing.T, f *review.Final) {
				if f.Vigilance != review.VigilanceMissed || strings.Contains(f.Text, "arrears") || f.Edited {
					t.Fatalf("%+v", f)
				}
			}},
		{name: "VigilanceRemoved", ap: review.Approval{Statements: append(confirmAll(), review.StatementDecision{ID: "s1", Action: "removed"})},
			check: &review.VigilanceCheck{StatementID: "s1", Text: "Marie has rent arrears."}, test: func(t *testing.T, f *review.Final) {
				if f.Vigilance != review.VigilanceCaught || f.Edited {
					t.Fatalf("%+v", f)
				}
			}},
		{name: "VigilanceLeftInEdit", ap: review.Approval{Content: "Marie has rent arrears.\nAll fine otherwise.", Statements: confirmAll()},
			check: &review.VigilanceCheck{StatementID: "s1", Text: "Marie has rent arrears."}, test: func(t *testing.T, f *review.Final) {
				if f.Vigilance != review.VigilanceMissed || f.Text != "All fine otherwise." {
					t.Fatalf("%+v", f)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := review.Finalize(content(), tc.ap, tc.check)
			if len(tc.fields) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				tc.test(t, f)
				return
			}
			if countersign.ErrorCode(err) != countersign.EINVALID {
				t.Fatalf("error %v, want EINVALID", err)
			}
			var got []string
			for _, fe := range countersign.ErrorFields(err) {
				got = append(got, fe.Field)
			}
			if !slices.Equal(got, tc.fields) {
				t.Fatalf("fields %v, want %v", got, tc.fields)
			}
		})
	}
}
