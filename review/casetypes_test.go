package review_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/review"
)

// TestPolicyCaseTypes reads the case types of a policy file: codes only, so
// that what enters the log with a case is never free text.
func TestPolicyCaseTypes(t *testing.T) {
	t.Parallel()
	p, err := review.ParsePolicy("p.yaml", nil)
	if err != nil || !slices.Equal(p.CaseTypes, casefile.DefaultCaseTypes) {
		t.Fatalf("default case types %v, %v", p.CaseTypes, err)
	}
	p, err = review.ParsePolicy("p.yaml", []byte("case_types: [general, youth_justice]\ndisabled_kinds:\n  youth_justice: [suggestions]\n"))
	if err != nil || !slices.Equal(p.CaseTypes, []string{"general", "youth_justice"}) || len(p.DisabledKinds["youth_justice"]) != 1 {
		t.Fatalf("configured case types %+v, %v", p, err)
	}
	for _, tc := range []struct{ doc, field, message string }{
		{"case_types: [general, Suspected Diabetes]\n", "case_types[1]", "not a case type code"},
		{"case_types: [general, 'lives alone']\n", "case_types[1]", "not a case type code"},
		{"case_types: [general, housing, housing]\n", "case_types[2]", "listed twice"},
		{"case_types: []\n", "case_types", "at least one"},
		{"case_types: [general]\ndisabled_kinds:\n  housing: [summary]\n", "disabled_kinds.housing", "not one of the case types"},
	} {
		_, err := review.ParsePolicy("p.yaml", []byte(tc.doc))
		var pe *review.PolicyError
		if !errors.As(err, &pe) || pe.Field != tc.field || !strings.Contains(pe.Message, tc.message) {
			t.Errorf("%q: got %v, want %s: …%s…", tc.doc, err, tc.field, tc.message)
		}
	}
}
