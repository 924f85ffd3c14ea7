package sqlstore_test

import (
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestOperations reads what the metrics collector shows, on both
// dialects: a queued draft is counted and aged, a draft waiting for review
// puts its team's queue on the list, and the audit backlog and checkpoint
// are read.
func TestOperations(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Dialects() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Taken before the seed, which may take seconds on a loaded
			// machine; the second allows for the database's clock.
			before := time.Now().Add(-time.Second)
			db := open(t)
			f := storetest.MustSeed(t, db)
			ctx := storetest.As(storetest.CLI(), f.Worker)

			s, err := db.Operations(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if s.Drafts["queued"] != 0 || !s.OldestRunnable.IsZero() || len(s.Teams) != 0 {
				t.Fatalf("an empty queue reads %+v", s)
			}
			if s.PendingEvents == 0 || s.OldestPendingAt.Before(before) {
				t.Fatalf("the seed's events are not pending: %d, %v", s.PendingEvents, s.OldestPendingAt)
			}

			if _, err := db.RequestDraft(ctx, review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary}); err != nil {
				t.Fatal(err)
			}
			if s, err = db.Operations(ctx); err != nil {
				t.Fatal(err)
			}
			if s.Drafts["queued"] != 1 || s.OldestRunnable.Before(before) || s.OldestRunnable.After(time.Now()) {
				t.Fatalf("one queued draft reads %+v", s)
			}

			if _, err := db.Sequence(ctx); err != nil {
				t.Fatal(err)
			}
			r := &review.Runner{Store: db.ReviewStore, Drafter: &assistant.Drafter{Model: assistant.Extractive{}}, Logger: slog.New(slog.DiscardHandler), Owner: "test", Workers: 1, Lease: time.Minute}
			if ran, err := r.RunOne(ctx); !ran || err != nil {
				t.Fatalf("run the draft's job: %v %v", ran, err)
			}
			if s, err = db.Operations(ctx); err != nil {
				t.Fatal(err)
			}
			if s.Drafts["queued"] != 0 || s.Drafts["generating"] != 0 || len(s.Teams) != 1 || s.Teams[0].TeamID != f.Team.ID ||
				s.Teams[0].Depth != 1 || s.Teams[0].Oldest.Before(before) || s.Teams[0].Oldest.After(time.Now()) {
				t.Fatalf("one draft in review reads %+v", s)
			}
			if s.LogSize == 0 || s.PendingEvents == 0 {
				t.Fatalf("log %d, pending %d after sequencing and completing", s.LogSize, s.PendingEvents)
			}

			signer, _, err := audit.LoadOrCreateSigner(filepath.Join(t.TempDir(), "audit.key"), "test.example/audit")
			if err != nil {
				t.Fatal(err)
			}
			cp, err := (&audit.Notary{Store: db.AuditStore, Signer: signer, Origin: "test.example/audit"}).Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if s, err = db.Operations(ctx); err != nil {
				t.Fatal(err)
			}
			if s.PendingEvents != 0 || !s.OldestPendingAt.IsZero() || s.CheckpointSize != int64(cp.Size) || s.LogSize != int64(cp.Size) ||
				s.CheckpointAt.Before(before) || s.CheckpointAt.After(time.Now()) {
				t.Fatalf("after a checkpoint of %d: %+v", cp.Size, s)
			}
		})
	}
}
