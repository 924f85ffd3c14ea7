package sqlstore_test

import (
	"context"
	"reflect"
	"sync"
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

// A draft request that commits on PostgreSQL leaves what it knows of its
// draft (a claim hint) for the worker it wakes, which claims the draft
// with it in one statement that also reads the case's parties. The hinted
// claim gives the job the unhinted one gives; a stale hint claims nothing
// and the claim reads the draft as without one; the parties are those at
// the claim; and of the workers claiming with one hint, exactly one
// claims. SQLite keeps no hint, and its claims must behave the same.
func TestClaimHint(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			exerciseClaimHint(t, name == "postgres", dsn)
		})
	}
}

func exerciseClaimHint(t *testing.T, hinted bool, dsn func(testing.TB) string) {
	ctx := storetest.CLI()
	const lease = time.Minute
	// setup opens a database with a case of two parties, and a second
	// handle on it, as another replica.
	setup := func(t *testing.T) (db, other *sqlstore.DB, f *storetest.Fixture) {
		url := dsn(t)
		db = storetest.MustOpen(t, url)
		f = storetest.MustSeed(t, db)
		mustOK(t, db.AddParty(storetest.As(ctx, f.Worker), &casefile.Party{CaseID: f.Case.ID, Role: "other", FullName: "Paul Dubois", Phone: "+33 6 98 76 54 32"}))
		return db, storetest.MustOpen(t, url), f
	}
	requestAs := func(t *testing.T, db *sqlstore.DB, f *storetest.Fixture, req review.DraftRequest) *review.Draft {
		t.Helper()
		req.CaseID, req.Kind, req.Language = f.Case.ID, assistant.KindSummary, "en"
		d, err := db.RequestDraft(storetest.As(ctx, f.Worker), req)
		mustOK(t, err)
		if got := sqlstore.HasClaimHint(db, d.ID); got != hinted {
			t.Fatalf("a hint kept for the draft just requested: %v, want %v", got, hinted)
		}
		return d
	}
	request := func(t *testing.T, db *sqlstore.DB, f *storetest.Fixture, notes ...*casefile.Note) *review.Draft {
		t.Helper()
		var ids []string
		for _, n := range notes {
			ids = append(ids, n.ID)
		}
		return requestAs(t, db, f, review.DraftRequest{NoteIDs: ids})
	}
	// claim claims id as the worker woken for it does: with the hint on
	// PostgreSQL and nothing else (ClaimHinted), by ClaimDraft on SQLite.
	claim := func(db *sqlstore.DB, owner, id string) (*review.Job, error) {
		if hinted {
			return sqlstore.ClaimHinted(ctx, db, owner, lease, id)
		}
		return db.ClaimDraft(ctx, owner, lease, id)
	}
	// claims returns the attempts and previous statuses of the draft's
	// claim events.
	claims := func(t *testing.T, db *sqlstore.DB, id string) (got []string) {
		t.Helper()
		_, err := db.Sequence(ctx)
		mustOK(t, err)
		mustOK(t, db.EachEvent(ctx, 0, func(e *audit.Event) error {
			if e.Action == audit.ActionDraftClaimed && e.SubjectID == id {
				got = append(got, e.Payload["attempt"]+" "+e.Payload["previous_status"])
			}
			return nil
		}))
		return got
	}
	attempts := func(t *testing.T, db *sqlstore.DB, id string) (status string, n int) {
		t.Helper()
		var r struct {
			Status   string `db:"status"`
			Attempts int    `db:"attempts"`
		}
		mustOK(t, db.Raw().Get(&r, db.Raw().Rebind(`SELECT status, attempts FROM drafts WHERE id = ?`), id))
		return r.Status, r.Attempts
	}
	names := func(job *review.Job) (out []string) {
		for _, p := range job.Request.Parties {
			out = append(out, p.FullName)
		}
		return out
	}

	t.Run("TheHintedClaimGivesTheJobTheReadGives", func(t *testing.T) {
		t.Parallel()
		db, _, f := setup(t)
		for _, c := range []struct {
			name string
			req  review.DraftRequest
		}{
			{"TwoOfTheThreeNotesNamedOutOfTheirOrder", review.DraftRequest{NoteIDs: []string{f.Notes[2].ID, f.Notes[0].ID}}},
			// The request reads the three notes; the draft is made of two.
			{"TheNotesOfAPeriod", review.DraftRequest{Since: &f.Notes[1].WrittenAt}},
		} {
			d := requestAs(t, db, f, c.req)
			first, err := claim(db, "w", d.ID)
			mustOK(t, err)
			if first.DraftID != d.ID || first.CaseID != f.Case.ID || first.Attempt != 1 || first.Owner != "w" {
				t.Fatalf("%s: the hinted claim gave %+v", c.name, first)
			}
			// Given back for a retry, the draft is claimed again: the hint,
			// queued at attempt 0, is stale, and the claim reads the draft.
			now := time.Now()
			mustOK(t, db.FailJob(ctx, first, "The model did not answer in time.", &now))
			second, err := db.ClaimDraft(ctx, "v", lease, d.ID)
			mustOK(t, err)
			if second.Attempt != 2 || second.Owner != "v" {
				t.Fatalf("%s: the second claim gave %+v", c.name, second)
			}
			if !reflect.DeepEqual(first.Request, second.Request) {
				t.Fatalf("%s: the hinted claim's request\n%+v\nthe read's\n%+v", c.name, first.Request, second.Request)
			}
			want := assistant.Request{Kind: assistant.KindSummary, Language: "en"}
			for _, id := range d.NoteIDs {
				for _, n := range f.Notes {
					if n.ID == id {
						want.Notes = append(want.Notes, assistant.Note{ID: n.ID, Body: n.Body, WrittenAt: n.WrittenAt.UTC()})
					}
				}
			}
			if len(want.Notes) != 2 {
				t.Fatalf("%s: the draft is made of %q", c.name, d.NoteIDs)
			}
			got := first.Request
			got.Parties = nil
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: the job's request\n%+v\nwant\n%+v", c.name, got, want)
			}
			if n := names(first); !reflect.DeepEqual(n, []string{"Marie Dubois", "Paul Dubois"}) {
				t.Fatalf("%s: the job's parties are %q", c.name, n)
			}
			if got := claims(t, db, d.ID); !reflect.DeepEqual(got, []string{"1 queued", "2 queued"}) {
				t.Fatalf("%s: the claims' events read %q", c.name, got)
			}
		}
		mustAgree(t, db)
	})

	t.Run("AStaleHintClaimsNothing", func(t *testing.T) {
		t.Parallel()
		db, other, f := setup(t)
		// Claimed by another replica, the draft is not claimed again here.
		d := request(t, db, f, f.Notes[0])
		job, err := other.ClaimDraft(ctx, "other", lease, d.ID)
		mustOK(t, err)
		if _, err := claim(db, "w", d.ID); countersign.ErrorCode(err) != countersign.ENOTFOUND {
			t.Fatalf("a claim with a hint of a draft claimed elsewhere: %v, want ENOTFOUND", err)
		}
		if _, err := db.ClaimDraft(ctx, "w", lease, d.ID); countersign.ErrorCode(err) != countersign.ENOTFOUND {
			t.Fatalf("a claim of a draft claimed elsewhere: %v, want ENOTFOUND", err)
		}
		if st, n := attempts(t, db, d.ID); st != string(review.StatusGenerating) || n != 1 {
			t.Fatalf("the draft is %s at attempt %d, want generating at 1", st, n)
		}
		// Queued again there for a retry, at attempt 1, the hint (attempt
		// 0) claims nothing still; the claim reads the draft, and claims
		// it at attempt 2.
		now := time.Now()
		mustOK(t, other.FailJob(ctx, job, "The model did not answer in time.", &now))
		if _, err := claim(db, "w", d.ID); hinted && countersign.ErrorCode(err) != countersign.ENOTFOUND {
			t.Fatalf("a claim with a hint of a draft retried elsewhere: %v, want ENOTFOUND", err)
		}
		if !hinted {
			// On SQLite claim was ClaimDraft, which claimed it.
			job, err = db.ClaimDraft(ctx, "x", lease, d.ID)
			code(t, err, countersign.ENOTFOUND)
		} else {
			job, err = db.ClaimDraft(ctx, "w", lease, d.ID)
			mustOK(t, err)
			if job.Attempt != 2 || len(job.Request.Notes) != 1 || job.Request.Notes[0].ID != f.Notes[0].ID {
				t.Fatalf("the claim of a retried draft gave %+v", job)
			}
		}
		if got := claims(t, db, d.ID); !reflect.DeepEqual(got, []string{"1 queued", "2 queued"}) {
			t.Fatalf("the claims' events read %q", got)
		}
		if st, n := attempts(t, db, d.ID); st != string(review.StatusGenerating) || n != 2 {
			t.Fatalf("the draft is %s at attempt %d, want generating at 2", st, n)
		}

		// Claimed elsewhere under a lease that ended, the draft is taken
		// over here by the read, at the next attempt.
		d = request(t, db, f, f.Notes[1])
		_, err = other.ClaimDraft(ctx, "other", -time.Second, d.ID)
		mustOK(t, err)
		if _, err := claim(db, "w", d.ID); hinted && countersign.ErrorCode(err) != countersign.ENOTFOUND {
			t.Fatalf("a claim with a hint of a draft leased elsewhere: %v, want ENOTFOUND", err)
		}
		if !hinted {
			_, err = db.ClaimDraft(ctx, "w", lease, d.ID)
			code(t, err, countersign.ENOTFOUND)
		} else if job, err = db.ClaimDraft(ctx, "w", lease, d.ID); err != nil || job.Attempt != 2 {
			t.Fatalf("taking over a draft whose lease ended: %+v, %v", job, err)
		}
		if got := claims(t, db, d.ID); !reflect.DeepEqual(got, []string{"1 queued", "2 generating"}) {
			t.Fatalf("the claims' events read %q", got)
		}

		// Superseded as its case closes, the draft is claimed by no one.
		d = request(t, db, f, f.Notes[2])
		_, err = other.CloseCase(storetest.As(ctx, f.Supervisor), f.Case.ID, "goals_met")
		mustOK(t, err)
		if _, err := claim(db, "w", d.ID); countersign.ErrorCode(err) != countersign.ENOTFOUND {
			t.Fatalf("a claim with a hint of a superseded draft: %v, want ENOTFOUND", err)
		}
		if _, err := db.ClaimDraft(ctx, "w", lease, d.ID); countersign.ErrorCode(err) != countersign.ENOTFOUND {
			t.Fatalf("a claim of a superseded draft: %v, want ENOTFOUND", err)
		}
		if st, n := attempts(t, db, d.ID); st != string(review.StatusSuperseded) || n != 0 {
			t.Fatalf("the draft is %s at attempt %d, want superseded at 0", st, n)
		}
		if got := claims(t, db, d.ID); len(got) != 0 {
			t.Fatalf("a superseded draft was claimed: %q", got)
		}
		mustAgree(t, db)
	})

	t.Run("APartyAddedAfterTheRequestIsInTheJob", func(t *testing.T) {
		t.Parallel()
		db, other, f := setup(t)
		d := request(t, db, f, f.Notes[0])
		// Added by another replica between the request and the claim.
		mustOK(t, other.AddParty(storetest.As(ctx, f.Worker), &casefile.Party{CaseID: f.Case.ID, Role: "other", FullName: "Jeanne Martin"}))
		job, err := claim(db, "w", d.ID)
		mustOK(t, err)
		if n := names(job); !reflect.DeepEqual(n, []string{"Marie Dubois", "Paul Dubois", "Jeanne Martin"}) {
			t.Fatalf("the job's parties are %q, want the one added after the request too", n)
		}
	})

	t.Run("ACaseWithoutPartiesGivesAJobWithoutParties", func(t *testing.T) {
		t.Parallel()
		db, _, f := setup(t)
		_, err := db.Raw().Exec(db.Raw().Rebind(`DELETE FROM parties WHERE case_id = ?`), f.Case.ID)
		mustOK(t, err)
		d := request(t, db, f, f.Notes[0])
		job, err := claim(db, "w", d.ID)
		mustOK(t, err)
		if job.Attempt != 1 || len(job.Request.Parties) != 0 || len(job.Request.Notes) != 1 {
			t.Fatalf("the claim gave %+v", job)
		}
		if got := claims(t, db, d.ID); len(got) != 1 {
			t.Fatalf("the claims' events read %q", got)
		}
	})

	t.Run("WorkersClaimingWithOneHintClaimOnce", func(t *testing.T) {
		t.Parallel()
		db, other, f := setup(t)
		d := request(t, db, f, f.Notes[0])
		const workers = 8
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			claimed []string
			start   = make(chan struct{})
		)
		for i := range workers {
			wg.Go(func() {
				<-start
				owner := string(rune('a' + i))
				var job *review.Job
				var err error
				if i%2 == 1 {
					// Another replica, woken by a poll, reads the draft.
					job, err = other.ClaimDraft(ctx, owner, lease, d.ID)
				} else {
					job, err = claim(db, owner, d.ID)
				}
				switch {
				case err == nil:
					mu.Lock()
					claimed = append(claimed, job.Owner)
					mu.Unlock()
				case countersign.ErrorCode(err) != countersign.ENOTFOUND:
					t.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		if len(claimed) != 1 {
			t.Fatalf("%d workers claimed the draft (%q), want one", len(claimed), claimed)
		}
		if st, n := attempts(t, db, d.ID); st != string(review.StatusGenerating) || n != 1 {
			t.Fatalf("the draft is %s at attempt %d, want generating at 1", st, n)
		}
		if got := claims(t, db, d.ID); !reflect.DeepEqual(got, []string{"1 queued"}) {
			t.Fatalf("the claims' events read %q", got)
		}
	})

	t.Run("AJobWhoseInputsCannotBeReadIsGivenBack", func(t *testing.T) {
		t.Parallel()
		db, _, f := setup(t)
		d := request(t, db, f, f.Notes[0])
		// A party's name that no longer opens (its seal broken).
		_, err := db.Raw().Exec(db.Raw().Rebind(`UPDATE parties SET full_name = full_name || 'x' WHERE id = ?`), f.Client.ID)
		mustOK(t, err)
		if _, err := claim(db, "w", d.ID); err == nil || countersign.ErrorCode(err) == countersign.ENOTFOUND {
			t.Fatalf("a claim whose parties cannot be read: %v, want the error", err)
		}
		// Given back at once on PostgreSQL; SQLite's claim, one
		// transaction, is undone.
		want := 0
		if hinted {
			want = 1
		}
		if st, n := attempts(t, db, d.ID); st != string(review.StatusQueued) || n != want {
			t.Fatalf("the draft is %s at attempt %d, want queued again at %d", st, n, want)
		}
	})
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func code(t testing.TB, err error, want string) {
	t.Helper()
	if countersign.ErrorCode(err) != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

// mustAgree checks that the log takes every event pending and that the
// case data agrees with it.
func mustAgree(t testing.TB, db *sqlstore.DB) {
	t.Helper()
	_, err := db.Sequence(context.Background())
	mustOK(t, err)
	if _, fs := storetest.MustCheckCaseData(t, db); len(fs) > 0 {
		t.Fatalf("the case data does not agree with the log: %v", fs)
	}
}

// On PostgreSQL the worker woken for a draft requested here claims it in
// one statement, its parties read with it and its notes the request's,
// where the claim read the draft, claimed it, then read its notes and its
// parties. Counted with pg_stat_statements in the test's own database:
// the statements that read or write the draft's tables (the sequencer's
// work on the log's tables is not counted).
func TestAWokenClaimIsOneStatement(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t, storetest.PostgresDSN(t))
	ctx := context.Background()
	count := countStatements(t, db)
	f := storetest.MustSeed(t, db)
	d, err := db.RequestDraft(storetest.As(ctx, f.Worker), review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary,
		NoteIDs: []string{f.Notes[0].ID}})
	mustOK(t, err)
	count.reset()
	job, err := db.ClaimDraft(storetest.CLI(), "w", time.Minute, d.ID)
	mustOK(t, err)
	if len(job.Request.Notes) != 1 || len(job.Request.Parties) != 1 {
		t.Fatalf("the claim gave %+v", job.Request)
	}
	if calls := count.calls(`drafts|notes|parties|case_keys|cases`); calls != 1 {
		t.Fatalf("a woken claim made %d statements on the draft's tables, want 1", calls)
	}
}

// A claim hint is taken for a minute after its request (claimHintFor, by
// the handle's clock): an older one is dropped, and the claim reads the
// draft as without one, and claims it. The draft's language, changed by
// hand after the request, tells which the claim used: the hint keeps the
// request's. SQLite keeps no hint, and reads either way.
func TestAClaimHintExpires(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := &storetest.Clock{}
			db := storetest.MustOpen(t, dsn(t))
			db.Now = clock.Now
			hinted := db.Dialect() == "postgres"
			ctx := storetest.CLI()
			for _, c := range []struct {
				name  string
				after time.Duration
				hint  bool // whether the claim takes the hint on PostgreSQL
			}{
				{"Fresh", 59 * time.Second, true},
				{"Expired", 61 * time.Second, false},
			} {
				f := storetest.MustSeed(t, db)
				d, err := db.RequestDraft(storetest.As(ctx, f.Worker), review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary,
					Language: "en", NoteIDs: []string{f.Notes[0].ID}})
				mustOK(t, err)
				if got := sqlstore.HasClaimHint(db, d.ID); got != hinted {
					t.Fatalf("%s: a hint kept for the draft just requested: %v, want %v", c.name, got, hinted)
				}
				_, err = db.Raw().Exec(db.Raw().Rebind(`UPDATE drafts SET language = 'fr' WHERE id = ?`), d.ID)
				mustOK(t, err)
				clock.Advance(c.after)
				job, err := db.ClaimDraft(ctx, "w", time.Minute, d.ID)
				mustOK(t, err)
				want := "fr"
				if hinted && c.hint {
					want = "en"
				}
				if job.DraftID != d.ID || job.Attempt != 1 || job.Request.Language != want ||
					len(job.Request.Notes) != 1 || job.Request.Notes[0].ID != f.Notes[0].ID {
					t.Fatalf("%s: a claim %v after the request gave attempt %d of %s in %q with %d notes, want attempt 1 in %q with its note",
						c.name, c.after, job.Attempt, job.DraftID, job.Request.Language, len(job.Request.Notes), want)
				}
				if sqlstore.HasClaimHint(db, d.ID) {
					t.Fatalf("%s: the hint is still kept after the claim", c.name)
				}
			}
		})
	}
}
