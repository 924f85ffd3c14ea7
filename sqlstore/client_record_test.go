package sqlstore_test

import (
	"context"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// signAll is the approval of a reviewer who read every statement and item
// of d and signs them as drafted, with the given sharing.
func signAll(d *review.Draft, sharing, reason string) review.Approval {
	ap := review.Approval{Sharing: sharing, WithheldReason: reason}
	for _, s := range d.Content.Statements {
		ap.Statements = append(ap.Statements, review.StatementDecision{ID: s.ID, Action: review.StatementConfirmed, Comment: "Checked against the notes."})
	}
	for _, it := range d.Content.Items {
		ap.Items = append(ap.Items, review.ItemDecision{ID: it.ID, Accepted: true, Comment: "Checked against the notes."})
	}
	return ap
}

// clientOf is the context of the fixture's client signed in to their file.
func clientOf(f *storetest.Fixture, lang string) context.Context {
	return client.NewContext(context.Background(), client.Principal{AccountID: "acc-" + f.Client.ID, Name: f.Client.FullName,
		Language: lang, Parties: []client.PartyRef{{CaseID: f.Case.ID, PartyID: f.Client.ID}}})
}

func TestClientRecord(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Dialects() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			must := func(t *testing.T, err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			setup := func(t *testing.T) (*sqlstore.DB, *storetest.Fixture, context.Context) {
				t.Helper()
				db := open(t)
				f := storetest.MustSeed(t, db)
				return db, f, storetest.As(context.Background(), f.Worker)
			}

			t.Run("TheClientSeesSharedEntriesAndWithheldNoticesOfTheirOwnCaseOnly", func(t *testing.T) {
				t.Parallel()
				db, f, wctx := setup(t)
				d1 := storetest.MustDraft(t, db, f, assistant.KindSummary)
				shared, err := storetest.Approve(db, wctx, d1.ID, signAll(d1, review.SharingShared, ""))
				must(t, err)
				if shared.Sharing != review.SharingShared {
					t.Fatalf("entry sharing %q", shared.Sharing)
				}
				d2 := storetest.MustDraft(t, db, f, assistant.KindSuggestions)
				withheld, err := storetest.Approve(db, wctx, d2.ID, signAll(d2, review.SharingWithheld, review.WithheldThirdParty))
				must(t, err)
				// A draft still waiting is never in the client's file.
				storetest.MustDraft(t, db, f, assistant.KindSummary)

				// Another person's case, with a shared entry.
				other := &casefile.Case{Reference: "OTHER-" + f.Case.ID, Title: "Other"}
				must(t, db.CreateCase(wctx, other))
				must(t, db.AddNote(wctx, &casefile.Note{CaseID: other.ID, Body: "Visit with Paul. Paul needs a new bed."}))
				must(t, db.RecordConsent(wctx, &casefile.Consent{CaseID: other.ID, Given: true}))
				od, err := db.RequestDraft(wctx, review.DraftRequest{CaseID: other.ID, Kind: assistant.KindSummary})
				must(t, err)
				must(t, (&review.Runner{Store: db, Drafter: &assistant.Drafter{Model: assistant.Extractive{}}, Owner: "t"}).Drain(context.Background()))
				od, err = db.OpenDraft(wctx, od.ID)
				must(t, err)
				otherEntry, err := db.ApproveDraft(wctx, od.ID, signAll(od, review.SharingShared, ""))
				must(t, err)

				rec, err := db.FindClientRecord(clientOf(f, "en"), false)
				must(t, err)
				if len(rec.Entries) != 2 {
					t.Fatalf("entries %+v: want the shared one and the withheld notice", rec.Entries)
				}
				byID := map[string]client.Entry{}
				for _, e := range rec.Entries {
					if e.ID == otherEntry.ID {
						t.Fatal("the client sees an entry of another person's case")
					}
					byID[e.ID] = e
				}
				s, w := byID[shared.ID], byID[withheld.ID]
				if !s.Shared || s.Content != shared.Content || s.Provenance == nil || s.Provenance.SignedBy.Name != f.Worker.Name {
					t.Fatalf("shared entry %+v", s)
				}
				if w.Shared || w.Content != "" || w.Withheld == nil || w.Withheld.Reason != review.WithheldThirdParty {
					t.Fatalf("withheld entry %+v", w)
				}

				// The sharing choice is in the approval's event, as codes.
				must(t, errSequence(db))
				evs, err := db.FindEvents(storetest.CLI(), audit.EventFilter{CaseID: &f.Case.ID, Action: ptr(audit.ActionDraftApproved), Limit: 100})
				must(t, err)
				got := map[string]audit.Payload{}
				for _, e := range evs {
					got[e.SubjectID] = e.Payload
				}
				if p := got[d2.ID]; p["sharing"] != "withheld" || p["withheld_reason"] != "third_party" || p["sharing_default"] != "false" {
					t.Fatalf("approval event payload %v", p)
				}
				if p := got[d1.ID]; p["sharing"] != "shared" || p["withheld_reason"] != "" {
					t.Fatalf("approval event payload %v", p)
				}

				// Without a principal, nothing.
				if _, err := db.FindClientRecord(wctx, false); countersign.ErrorCode(err) != countersign.EUNAUTHORIZED {
					t.Fatalf("staff context: %v", err)
				}
			})

			t.Run("ACorrectionKeepsTheSharingAndTheHistoryKeepsEveryVersion", func(t *testing.T) {
				t.Parallel()
				db, f, wctx := setup(t)
				d := storetest.MustDraft(t, db, f, assistant.KindSummary)
				e, err := storetest.Approve(db, wctx, d.ID, signAll(d, review.SharingWithheld, review.WithheldLegal))
				must(t, err)
				c, err := db.CorrectEntry(wctx, f.Case.ID, e.ID, review.Correction{Content: "Marie has rent arrears of two months.", Reason: "Shorter."})
				must(t, err)
				if c.Sharing != review.SharingWithheld || c.WithheldReason != review.WithheldLegal {
					t.Fatalf("correction sharing %q %q", c.Sharing, c.WithheldReason)
				}
				rec, err := db.FindClientRecord(clientOf(f, "fr"), false)
				must(t, err)
				if len(rec.Entries) != 1 || rec.Entries[0].ID != c.ID || rec.Entries[0].Withheld == nil || rec.Entries[0].Withheld.Reason != "legal" {
					t.Fatalf("in force: %+v", rec.Entries)
				}
				all, err := db.FindClientRecord(clientOf(f, "fr"), true)
				must(t, err)
				if len(all.Entries) != 2 || all.Entries[0].SupersededBy != c.ID {
					t.Fatalf("history: %+v", all.Entries)
				}
			})

			t.Run("TheDefaultWithholdsWhatSpeaksOfSafeguarding", func(t *testing.T) {
				t.Parallel()
				db, f, wctx := setup(t)
				d := storetest.MustDraft(t, db, f, assistant.KindSummary)
				ap := signAll(d, "", "")
				ap.Content = "The school reported bruises on the child's arms and suspects physical abuse at home."
				e, err := storetest.Approve(db, wctx, d.ID, ap)
				must(t, err)
				if e.Sharing != review.SharingWithheld || e.WithheldReason != review.WithheldSafeguarding {
					t.Fatalf("default sharing %q %q", e.Sharing, e.WithheldReason)
				}
			})

			t.Run("AWorkerExportsOnlyTheirCasesClient", func(t *testing.T) {
				t.Parallel()
				db, f, wctx := setup(t)
				p, err := db.PartyPrincipal(wctx, f.Case.ID, f.Client.ID)
				must(t, err)
				if len(p.Parties) != 1 || p.Parties[0].CaseID != f.Case.ID || p.Name != f.Client.FullName || p.AccountID == "" {
					t.Fatalf("principal %+v", p)
				}
				if _, err := db.PartyPrincipal(storetest.As(context.Background(), f.Other), f.Case.ID, f.Client.ID); err == nil {
					t.Fatal("another team's worker exported the client")
				}
				if _, err := db.PartyPrincipal(wctx, f.Case.ID, "par_nobody"); countersign.ErrorCode(err) != countersign.ENOTFOUND {
					t.Fatalf("unknown party: %v", err)
				}
			})
		})
	}
}

func ptr[T any](v T) *T { return &v }

// errSequence sequences the pending events.
func errSequence(db *sqlstore.DB) error {
	_, err := db.Sequence(storetest.CLI())
	return err
}
