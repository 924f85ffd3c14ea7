package review_test

import (
	"errors"
	"testing"

	"github.com/countersign/countersign/review"
)

// TestPolicyRetentionSection reads the policy file's retention: section
// through casefile.ParseRetention, and names the field at fault.
func TestPolicyRetentionSection(t *testing.T) {
	t.Parallel()
	p, err := review.ParsePolicy("policy.yaml", []byte("retention:\n  adult_social_care: 8y\n  general: 0d\n  minimum:\n    adult_social_care: 2y\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Retention.Keep["adult_social_care"].String() != "8y" || p.Retention.Minimum["adult_social_care"].String() != "2y" ||
		p.Retention.Keep["general"].String() != "0d" || p.Retention.Version == review.DefaultPolicy().Retention.Version {
		t.Fatalf("retention %+v", p.Retention)
	}
	_, err = review.ParsePolicy("policy.yaml", []byte("case_types: [general]\nretention:\n  housing: 8y\n"))
	var pe *review.PolicyError
	if !errors.As(err, &pe) || pe.Field != "retention.housing" {
		t.Fatalf("error %v, want one naming retention.housing", err)
	}
	if len(review.DefaultPolicy().Retention.Keep) != 0 {
		t.Fatal("the default policy erases cases")
	}
}
