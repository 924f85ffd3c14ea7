package review_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/review"
)

// unsupported is a draft whose second statement and first item the
// grounding check could not trace to the notes, and whose third statement is
// high-stakes.
func unsupported() *assistant.Content {
	return &assistant.Content{Language: "en",
		Statements: []assistant.Statement{
			{ID: "st_a", Text: "Marie has rent arrears."},
			{ID: "st_b", Text: "Marie abuses her children.", Ungrounded: true, UngroundedCode: assistant.UngroundedQuoteTooShort},
			{ID: "st_c", Text: "There is a risk of eviction.", Category: assistant.CategoryRisk},
		},
		Items: []assistant.Item{
			{ID: "it_a", Type: "action", Text: "Call the police.", Ungrounded: true, UngroundedCode: assistant.UngroundedOverlap},
			{ID: "it_b", Type: "action", Text: "Call the landlord."},
		},
	}
}

func TestFinalizeUngrounded(t *testing.T) {
	t.Parallel()
	confirmRisk := review.StatementDecision{ID: "st_c", Action: review.StatementConfirmed}
	rejectItem := review.ItemDecision{ID: "it_a"}
	for _, tc := range []struct {
		name   string
		ap     review.Approval
		fields []string // fields at fault; none when valid
		text   string   // the signed text, when valid
	}{
		{name: "UndecidedStatementAndItemAreRefused", ap: review.Approval{},
			fields: []string{"statements", "items"}},
		{name: "ConfirmedWithoutCommentIsRefused", ap: review.Approval{
			Statements: []review.StatementDecision{{ID: "st_b", Action: review.StatementConfirmed, Comment: "  "}, confirmRisk},
			Items:      []review.ItemDecision{{ID: "it_a", Accepted: true}}},
			fields: []string{"statements[0].comment", "items[0].comment"}},
		{name: "TooLongCommentIsRefused", ap: review.Approval{
			Statements: []review.StatementDecision{{ID: "st_b", Action: review.StatementConfirmed, Comment: strings.Repeat("x", review.MaxDecisionComment+1)}, confirmRisk},
			Items:      []review.ItemDecision{rejectItem}},
			fields: []string{"statements[0].comment"}},
		{name: "ConfirmedWithCommentIsSigned", ap: review.Approval{
			Statements: []review.StatementDecision{{ID: "st_b", Action: review.StatementConfirmed, Comment: "Seen at the home visit."}, confirmRisk},
			Items:      []review.ItemDecision{{ID: "it_a", Accepted: true, Comment: "Agreed with the team."}}},
			text: "Marie has rent arrears.\nMarie abuses her children.\nThere is a risk of eviction.\nAction: Call the police.\nAction: Call the landlord.\n"},
		{name: "RemovedAndRejectedAreLeftOut", ap: review.Approval{
			Statements: []review.StatementDecision{{ID: "st_b", Action: review.StatementRemoved}, confirmRisk},
			Items:      []review.ItemDecision{rejectItem}},
			text: "Marie has rent arrears.\nThere is a risk of eviction.\nAction: Call the landlord.\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := review.Finalize(unsupported(), tc.ap, nil)
			if len(tc.fields) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if f.Text != tc.text {
					t.Fatalf("text %q, want %q", f.Text, tc.text)
				}
				return
			}
			if countersign.ErrorCode(err) != countersign.EINVALID {
				t.Fatalf("error %v, want EINVALID", err)
			}
			var got []string
			for _, fe := range countersign.ErrorFields(err) {
				got = append(got, fe.Field)
				if fe.Field == "statements" && (!strings.Contains(fe.Message, "st_b") || !strings.Contains(fe.Message, "st_c") || strings.Contains(fe.Message, "st_a")) {
					t.Fatalf("the refusal does not list the undecided ids: %q", fe.Message)
				}
				if fe.Field == "items" && (!strings.Contains(fe.Message, "it_a") || strings.Contains(fe.Message, "it_b")) {
					t.Fatalf("the refusal does not list the unsupported items: %q", fe.Message)
				}
			}
			if !slices.Equal(got, tc.fields) {
				t.Fatalf("fields %v, want %v", got, tc.fields)
			}
		})
	}
}
