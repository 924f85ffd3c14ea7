package sqlstore_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// predictedPaths counts a case's draft requests decided on what the handle
// kept (sqlstore.AfterRequestPredicted): written, and fenced out.
type predictedPaths struct{ written, lost int }

func watchPredicted(t *testing.T, caseID string) *predictedPaths {
	p := &predictedPaths{}
	t.Cleanup(sqlstore.AfterRequestPredicted(caseID, func(written bool) {
		if written {
			p.written++
		} else {
			p.lost++
		}
	}))
	return p
}

// requestedEvent returns the draft.requested event of draft id.
func requestedEvent(t *testing.T, db *sqlstore.DB, id string) audit.Payload {
	t.Helper()
	events := loggedEvents(t, db, `subject_id = ? AND action = ?`, id, audit.ActionDraftRequested)
	if len(events) != 1 {
		t.Fatalf("%d draft.requested events for %s, want 1", len(events), id)
	}
	return events[0].payload
}

// TestRequestOnWhatWasKept: on PostgreSQL a draft request over notes this
// handle stored, in a case it read for an earlier request, decides on what
// it kept and writes without reading: the draft and its event as a read
// decides them (the notes in the order they were written), and the claim
// hint with the notes' text, opened from their sealed bodies. SQLite
// reads, and writes the same.
func TestRequestOnWhatWasKept(t *testing.T) {
	t.Parallel()
	for name, dsnOf := range caseKeyDSNs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := storetest.MustOpen(t, dsnOf(t))
			f := storetest.MustSeed(t, db)
			paths := watchPredicted(t, f.Case.ID)
			ctx := storetest.As(context.Background(), f.Worker)
			request := func(notes ...*casefile.Note) *review.Draft {
				t.Helper()
				req := review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary, Language: "en"}
				for _, n := range notes {
					req.NoteIDs = append(req.NoteIDs, n.ID)
				}
				d, err := db.RequestDraft(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				return d
			}
			request(f.Notes[0]) // reads the case, and keeps it
			if paths.written != 0 || paths.lost != 0 {
				t.Fatalf("the first request took the kept path: %+v", paths)
			}
			// A note written before the seeded ones, then a request over it
			// and one of those, named in the other order.
			early := &casefile.Note{CaseID: f.Case.ID, Body: "Phone call with Marie. She confirmed the visit on Monday.",
				WrittenAt: time.Now().Add(-72 * time.Hour)}
			if err := db.AddNote(ctx, early); err != nil {
				t.Fatal(err)
			}
			d := request(f.Notes[1], early, f.Notes[1])
			if want := db.Dialect() == "postgres"; (paths.written == 1) != want || paths.lost != 0 {
				t.Fatalf("requests on what was kept: %+v, want one written: %v", paths, want)
			}
			if want := []string{early.ID, f.Notes[1].ID}; !slices.Equal(d.NoteIDs, want) {
				t.Fatalf("the draft's notes: %v, want %v (in the order written)", d.NoteIDs, want)
			}
			if d.ReviewerID != f.Worker.ID || d.TeamID != f.Team.ID || d.Status != review.StatusQueued || d.Language != "en" {
				t.Fatalf("draft: reviewer %s, team %s, status %s, language %s", d.ReviewerID, d.TeamID, d.Status, d.Language)
			}
			stored, err := db.FindDraftByID(ctx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(stored.NoteIDs, d.NoteIDs) || stored.ReviewerID != d.ReviewerID {
				t.Fatalf("stored draft: %v %s, answered %v %s", stored.NoteIDs, stored.ReviewerID, d.NoteIDs, d.ReviewerID)
			}
			if p := requestedEvent(t, db, d.ID); p["notes"] != early.ID+","+f.Notes[1].ID || p["kind"] != "summary" {
				t.Fatalf("draft.requested payload: %v", p)
			}
			if db.Dialect() != "postgres" {
				return
			}
			job, err := sqlstore.ClaimHinted(context.Background(), db, "test", time.Minute, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(job.Request.Notes) != 2 || job.Request.Notes[0].Body != early.Body || job.Request.Notes[1].Body != f.Notes[1].Body {
				t.Fatalf("the claim hint's notes: %+v", job.Request.Notes)
			}
		})
	}
}

// TestRequestPredictionChecked: a draft request decided on what the handle
// kept writes nothing when the case changed since on another replica (its
// consent withdrawn, its worker changed, the case closed); it reads, and
// answers as a request without a prediction does. A note of another case
// is never taken as one of this case's.
func TestRequestPredictionChecked(t *testing.T) {
	t.Parallel()
	for name, dsnOf := range caseKeyDSNs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dsn := dsnOf(t)
			db, other := storetest.MustOpen(t, dsn), storetest.MustOpen(t, dsn)
			cases := []struct {
				name string
				// change runs on the other handle; the worker then requests
				// a draft of a note the handle kept.
				change func(t *testing.T, f *storetest.Fixture)
				// want is the request's error code.
				want string
			}{
				{name: "ConsentWithdrawn", change: func(t *testing.T, f *storetest.Fixture) {
					if err := other.RecordConsent(storetest.As(context.Background(), f.Worker), &casefile.Consent{CaseID: f.Case.ID, Given: false}); err != nil {
						t.Fatal(err)
					}
				}, want: countersign.ECONFLICT},
				{name: "CaseReassigned", change: func(t *testing.T, f *storetest.Fixture) {
					if _, err := other.Raw().Exec(other.Raw().Rebind(`UPDATE cases SET worker_id = ? WHERE id = ?`), mustWorker(t, other, f).ID, f.Case.ID); err != nil {
						t.Fatal(err)
					}
				}, want: countersign.EFORBIDDEN},
				{name: "CaseClosed", change: func(t *testing.T, f *storetest.Fixture) {
					if _, err := other.CloseCase(storetest.As(context.Background(), f.Supervisor), f.Case.ID, "goals_met"); err != nil {
						t.Fatal(err)
					}
				}, want: countersign.ECONFLICT},
				{name: "NothingChanged", change: func(*testing.T, *storetest.Fixture) {}},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					f := storetest.MustSeed(t, db)
					ctx := storetest.As(context.Background(), f.Worker)
					if _, err := db.RequestDraft(ctx, review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary, NoteIDs: []string{f.Notes[0].ID}}); err != nil {
						t.Fatal(err)
					}
					paths := watchPredicted(t, f.Case.ID)
					c.change(t, f)
					d, err := db.RequestDraft(ctx, review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary, NoteIDs: []string{f.Notes[1].ID}})
					if got := countersign.ErrorCode(err); got != c.want {
						t.Fatalf("request: %q (%v), want %q", got, err, c.want)
					}
					// On PostgreSQL every request here takes the kept path: it
					// writes when nothing changed, and loses its fence otherwise.
					want := predictedPaths{}
					if db.Dialect() == "postgres" {
						if c.want == "" {
							want.written = 1
						} else {
							want.lost = 1
						}
					}
					if *paths != want {
						t.Fatalf("paths: %+v, want %+v", *paths, want)
					}
					var n int
					if err := db.Raw().Get(&n, db.Raw().Rebind(`SELECT COUNT(*) FROM drafts WHERE case_id = ?`), f.Case.ID); err != nil {
						t.Fatal(err)
					}
					drafts := 1 // the first request's
					if err == nil {
						drafts++
					}
					if n != drafts {
						t.Fatalf("%d drafts in the case, want %d", n, drafts)
					}
					if err == nil && !slices.Equal(d.NoteIDs, []string{f.Notes[1].ID}) {
						t.Fatalf("the draft's notes: %v", d.NoteIDs)
					}
				})
			}
			t.Run("NoteOfAnotherCase", func(t *testing.T) {
				f := storetest.MustSeed(t, db)
				ctx := storetest.As(context.Background(), f.Worker)
				second := &casefile.Case{Reference: countersign.NewID("ref"), Title: "Budget"}
				if err := db.CreateCase(ctx, second); err != nil {
					t.Fatal(err)
				}
				elsewhere := &casefile.Note{CaseID: second.ID, Body: "Visit at the office. She asked for help with a form."}
				if err := db.AddNote(ctx, elsewhere); err != nil {
					t.Fatal(err)
				}
				if _, err := db.RequestDraft(ctx, review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary, NoteIDs: []string{f.Notes[0].ID}}); err != nil {
					t.Fatal(err)
				}
				paths := watchPredicted(t, f.Case.ID)
				_, err := db.RequestDraft(ctx, review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary, NoteIDs: []string{f.Notes[1].ID, elsewhere.ID}})
				fields := countersign.ErrorFields(err)
				if countersign.ErrorCode(err) != countersign.EINVALID || len(fields) != 1 || !strings.Contains(fields[0].Message, "not notes of this case") {
					t.Fatalf("request naming a note of another case: %v", err)
				}
				if paths.written != 0 || paths.lost != 0 {
					t.Fatalf("the request took the kept path: %+v", paths)
				}
			})
		})
	}
}
