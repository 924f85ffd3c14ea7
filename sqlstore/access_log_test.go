package sqlstore_test

import (
	"context"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/sqlstore/storetest"
)

func TestAccessLog(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Dialects() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			f := storetest.MustSeed(t, db)
			other := storetest.MustSeed(t, db)
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			wctx := storetest.As(context.Background(), f.Worker)
			sctx := storetest.As(context.Background(), f.Supervisor)
			must(db.RecordRead(wctx, client.Read{CaseID: f.Case.ID, What: client.ReadNotes}))
			must(db.RecordRead(sctx, client.Read{CaseID: f.Case.ID, What: client.ReadDraft, TargetID: "drf_1"}))
			// The service's own reads, and reads of another case, are not this client's.
			must(db.RecordRead(storetest.CLI(), client.Read{CaseID: f.Case.ID, What: client.ReadNotes}))
			must(db.RecordRead(storetest.As(context.Background(), other.Worker), client.Read{CaseID: other.Case.ID, What: client.ReadCase}))
			if err := db.RecordRead(wctx, client.Read{CaseID: f.Case.ID, What: "peek"}); countersign.ErrorCode(err) != countersign.EINVALID {
				t.Fatalf("unknown read: %v", err)
			}
			// A read whose event cannot be written fails.
			cancelled, cancel := context.WithCancel(wctx)
			cancel()
			if err := db.RecordRead(cancelled, client.Read{CaseID: f.Case.ID, What: client.ReadRecord}); err == nil {
				t.Fatal("a read was reported logged with a cancelled context")
			}

			cctx := clientOf(f, "en")
			l, err := db.FindAccessLog(cctx, 0)
			must(err)
			if len(l.Entries) != 2 {
				t.Fatalf("before sequencing: %+v", l.Entries)
			}
			for _, e := range l.Entries {
				if e.Recorded() || e.Proof != nil {
					t.Fatalf("a pending read is shown as recorded: %+v", e)
				}
			}
			if l.Entries[0].Who.Name != f.Supervisor.Name || l.Entries[0].What != client.ReadDraft || l.Entries[0].TargetID != "drf_1" {
				t.Fatalf("newest first, with who and what: %+v", l.Entries[0])
			}
			if want := f.Worker.Name + " (social worker) read the notes in your file."; l.Entries[1].Words != want {
				t.Fatalf("words %q, want %q", l.Entries[1].Words, want)
			}

			signer, vkey, err := audit.LoadOrCreateSigner(t.TempDir()+"/key", "test.local/audit")
			must(err)
			notary := &audit.Notary{Store: db, Signer: signer, Origin: "test.local/audit"}
			must(db.RecordRead(wctx, client.Read{CaseID: f.Case.ID, What: client.ReadRecord}))
			if _, err := db.Sequence(storetest.CLI()); err != nil {
				t.Fatal(err)
			}
			l, err = client.ProvedAccessLog(cctx, db, notary, 0)
			must(err)
			if len(l.Entries) != 3 || l.Checkpoint == nil {
				t.Fatalf("after sequencing: %+v", l)
			}
			for _, e := range l.Entries {
				if !e.Recorded() || e.Proof == nil {
					t.Fatalf("a sequenced read has no proof: %+v", e)
				}
				// The proof holds for the canonical encoding shown, against the signed root.
				if err := audit.VerifyInclusion(e.Proof.Index, e.Proof.Size, audit.Hasher.HashLeaf(e.Canonical), e.Proof.Hashes, l.Checkpoint.Root); err != nil {
					t.Fatal(err)
				}
			}
			vs, err := audit.ParseVerifierKeys(vkey)
			must(err)
			if _, err := audit.OpenCheckpoint([]byte(l.Checkpoint.Note), "test.local/audit", vs[0]); err != nil {
				t.Fatalf("the checkpoint note does not verify: %v", err)
			}

			// A read after the checkpoint is listed as being recorded.
			must(db.RecordRead(wctx, client.Read{CaseID: f.Case.ID, What: client.ReadCase}))
			l, err = db.FindAccessLog(cctx, 2)
			must(err)
			if len(l.Entries) != 2 || l.Entries[0].Recorded() || l.Entries[0].What != client.ReadCase {
				t.Fatalf("limit and order: %+v", l.Entries)
			}

			// Another client sees only their own case's reads.
			ol, err := db.FindAccessLog(clientOf(other, "en"), 0)
			must(err)
			if len(ol.Entries) != 1 || ol.Entries[0].CaseID != other.Case.ID {
				t.Fatalf("other client: %+v", ol.Entries)
			}
		})
	}
}
