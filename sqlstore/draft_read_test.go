package sqlstore_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestDraftReadAfterShreddedKey: a draft's content opens with its case's
// key row read in the same statement, so once erasure shreds the key no
// replica shows it, one that cached the key included.
func TestDraftReadAfterShreddedKey(t *testing.T) {
	t.Parallel()
	for name, dsnOf := range caseKeyDSNs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dsn := dsnOf(t)
			db, replica := storetest.MustOpen(t, dsn), storetest.MustOpen(t, dsn)
			f := storetest.MustSeed(t, db)
			wctx := storetest.As(context.Background(), f.Worker)
			d := storetest.MustDraft(t, db, f, assistant.KindSummary)
			// The replica reads the draft, so it holds the case's key in its cache.
			got, err := replica.OpenDraft(wctx, d.ID)
			if err != nil || got.Content == nil || got.Content.Text() != d.Content.Text() {
				t.Fatalf("the draft read as %+v, %v", got, err)
			}
			if _, err := db.ShredCaseKey(storetest.CLI(), f.Case.ID); err != nil {
				t.Fatal(err)
			}
			for who, h := range map[string]*sqlstore.DB{"the shredding handle": db, "the replica": replica} {
				for how, read := range map[string]func() error{
					"FindDraftByID": func() error { got, err = h.FindDraftByID(wctx, d.ID); return err },
					"OpenDraft":     func() error { got, err = h.OpenDraft(wctx, d.ID); return err },
				} {
					if read() == nil && got.Content != nil && got.Content.Text() != "" {
						t.Errorf("%s's %s read the draft's content after the shred: %q", who, how, got.Content.Text())
					}
				}
			}
		})
	}
}

// TestDraftReadBenchSwitch: the switch of `countersign bench
// --unlogged-reads` turns a draft read's access event off, the first
// opening's included (its draft.opened event stays), and back on.
func TestDraftReadBenchSwitch(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Dialects() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			f := storetest.MustSeed(t, db)
			wctx := storetest.As(context.Background(), f.Worker)
			d, err := db.RequestDraft(wctx, review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary})
			if err != nil {
				t.Fatal(err)
			}
			if err := (&review.Runner{Store: db, Drafter: &assistant.Drafter{Model: assistant.Extractive{}}, Owner: "test"}).Drain(context.Background()); err != nil {
				t.Fatal(err)
			}
			count := func(action string) int {
				t.Helper()
				var n int
				if err := db.Raw().Get(&n, db.Raw().Rebind(`SELECT (SELECT COUNT(*) FROM audit_pending WHERE case_id = ? AND action = ?)
					+ (SELECT COUNT(*) FROM audit_event WHERE case_id = ? AND action = ?)`), f.Case.ID, action, f.Case.ID, action); err != nil {
					t.Fatal(err)
				}
				return n
			}
			off := new(atomic.Bool)
			off.Store(true)
			db.BenchReadLogSwitch(off)
			for range 2 { // the first opening, then a later read
				if _, err := db.OpenDraft(wctx, d.ID); err != nil {
					t.Fatal(err)
				}
			}
			if r, o := count(audit.ActionCaseRead), count(audit.ActionDraftOpened); r != 0 || o != 1 {
				t.Fatalf("with the switch off: %d case.read and %d draft.opened events, want 0 and 1", r, o)
			}
			off.Store(false)
			if _, err := db.OpenDraft(wctx, d.ID); err != nil {
				t.Fatal(err)
			}
			if r := count(audit.ActionCaseRead); r != 1 {
				t.Fatalf("with the switch on again: %d case.read events, want 1", r)
			}
		})
	}
}
