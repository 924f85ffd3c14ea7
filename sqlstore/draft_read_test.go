package sqlstore_test

import (
	"context"
	"testing"

	"github.com/countersign/countersign/assistant"
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
