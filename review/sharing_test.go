package review_test

import (
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/review"
)

func TestDecideSharing(t *testing.T) {
	t.Parallel()
	const plain = "Marie has rent arrears. She will see the budget advice service on Monday."
	const abuse = "The teacher reported bruises on the child's arms and suspects physical abuse by the father."
	if !review.SpeaksOfSafeguarding(abuse) || review.SpeaksOfSafeguarding(plain) {
		t.Fatalf("the safeguarding reading of the test texts changed: abuse %v, plain %v",
			review.SpeaksOfSafeguarding(abuse), review.SpeaksOfSafeguarding(plain))
	}
	for _, tc := range []struct {
		name    string
		ap      review.Approval
		text    string
		want    review.SharingChoice
		field   string
		invalid bool
	}{
		{"SharedWhenChosen", review.Approval{Sharing: "shared"}, abuse, review.SharingChoice{Sharing: "shared"}, "", false},
		{"WithheldWithAReason", review.Approval{Sharing: "withheld", WithheldReason: "third_party"}, plain,
			review.SharingChoice{Sharing: "withheld", WithheldReason: "third_party"}, "", false},
		{"WithheldWithoutAReasonIsRefused", review.Approval{Sharing: "withheld"}, plain, review.SharingChoice{}, "withheld_reason", true},
		{"WithheldWithAnUnknownReasonIsRefused", review.Approval{Sharing: "withheld", WithheldReason: "gossip"}, plain, review.SharingChoice{}, "withheld_reason", true},
		{"SharedWithAReasonIsRefused", review.Approval{Sharing: "shared", WithheldReason: "legal"}, plain, review.SharingChoice{}, "withheld_reason", true},
		{"AnUnknownChoiceIsRefused", review.Approval{Sharing: "maybe"}, plain, review.SharingChoice{}, "sharing", true},
		{"AReasonWithoutWithheldIsRefused", review.Approval{WithheldReason: "legal"}, plain, review.SharingChoice{}, "sharing", true},
		{"AFormThatAskedNeedsAnAnswer", review.Approval{SharingAsked: true}, plain, review.SharingChoice{}, "sharing", true},
		{"DefaultIsTheRightOfAccess", review.Approval{}, plain, review.SharingChoice{Sharing: "shared", Default: true}, "", false},
		{"DefaultWithholdsWhatSpeaksOfSafeguarding", review.Approval{}, abuse,
			review.SharingChoice{Sharing: "withheld", WithheldReason: "safeguarding", Default: true}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := review.DecideSharing(tc.ap, tc.text)
			if tc.invalid {
				if countersign.ErrorCode(err) != countersign.EINVALID {
					t.Fatalf("error %v, want EINVALID", err)
				}
				fields := countersign.ErrorFields(err)
				if len(fields) != 1 || fields[0].Field != tc.field {
					t.Fatalf("fields %+v, want %s", fields, tc.field)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}
