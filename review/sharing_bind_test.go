package review_test

import (
	"testing"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/review"
)

// A signed entry's sharing is bound to the log: a row changed to share
// what its signer withheld, or to give another reason, is reported.
func TestCheckEntrySharing(t *testing.T) {
	t.Parallel()
	salt := audit.NewSalt()
	e := &review.Entry{ID: "ent_1", CaseID: "case_1", DraftID: "drf_1", Content: "Signed.", SignedBy: "usr_w", Salt: salt,
		Sharing: review.SharingWithheld, WithheldReason: review.WithheldSafeguarding}
	p := audit.Payload{"draft": "drf_1", "sharing": "withheld", "withheld_reason": "safeguarding"}
	p.Commit("content", salt, e.Content)
	signed := w(5, "usr_w", audit.ActionRecordSigned, "ent_1", p)
	has(t, "as signed", review.CheckEntry(e, []audit.Witness{signed}))
	shared := *e
	shared.Sharing, shared.WithheldReason = review.SharingShared, ""
	has(t, "shared behind the log's back", review.CheckEntry(&shared, []audit.Witness{signed}),
		`its sharing is "shared" but the log says "withheld"`, `its withheld_reason is "" but the log says "safeguarding"`)
	// An entry signed before sharing was asked has none on either side.
	old := *e
	old.Sharing, old.WithheldReason = "", ""
	legacy := audit.Payload{"draft": "drf_1"}
	legacy.Commit("content", salt, e.Content)
	has(t, "before migration 0011", review.CheckEntry(&old, []audit.Witness{w(5, "usr_w", audit.ActionRecordSigned, "ent_1", legacy)}))
}
