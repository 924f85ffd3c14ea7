package sqlstore_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/identity"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// The review queue read with the clients' responses waiting beside it
// (FindQueueWithResponses, one statement on PostgreSQL) answers exactly
// as its two reads, FindQueue then FindOpenResponses, for every actor and
// filter: the same drafts, cursor, responses and refusals.
func TestQueueWithResponsesAsTheTwoReads(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(testing.TB) string{"SQLite": storetest.SQLiteDSN, "PostgreSQL": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			exerciseQueueWithResponses(t, storetest.MustOpen(t, dsn(t)))
		})
	}
}

func exerciseQueueWithResponses(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	f, g := storetest.MustSeed(t, db), storetest.MustSeed(t, db)
	e := storetest.MustSignedEntry(t, db, f, assistant.KindSummary, review.SharingShared, "")
	storetest.MustDraft(t, db, f, assistant.KindSuggestions)
	storetest.MustDraft(t, db, f, assistant.KindSummary)
	storetest.MustDraft(t, db, g, assistant.KindSummary)
	p := storetest.MustClientAccount(t, db, f.Case.ID, f.Client.ID, f.Client.FullName)
	cctx := client.NewContext(ctx, p)
	answered, err := db.Respond(cctx, e.ID, client.ResponseCorrection, "The arrears are one month, not two.")
	must(err)
	_, err = db.Respond(cctx, e.ID, client.ResponseOwnView, "I asked for help with the heating bill in October.")
	must(err)
	_, err = db.AnswerResponse(storetest.As(ctx, f.Worker), answered.ID, client.Answer{Outcome: client.OutcomeDeclined, Reason: "The rent office confirmed it."})
	must(err)

	type answer struct {
		Drafts    []*review.Draft
		Next      string
		Responses []*client.Response
		Code, Msg string
	}
	twoReads := func(ctx context.Context, f review.QueueFilter) answer {
		drafts, next, err := db.FindQueue(ctx, f)
		if err != nil {
			return answer{Code: countersign.ErrorCode(err), Msg: err.Error()}
		}
		open, err := db.FindOpenResponses(ctx)
		if err != nil {
			return answer{Code: countersign.ErrorCode(err), Msg: err.Error()}
		}
		return answer{Drafts: drafts, Next: next, Responses: open}
	}
	oneRead := func(ctx context.Context, f review.QueueFilter) answer {
		drafts, next, open, err := db.FindQueueWithResponses(ctx, f)
		if err != nil {
			return answer{Code: countersign.ErrorCode(err), Msg: err.Error()}
		}
		return answer{Drafts: drafts, Next: next, Responses: open}
	}
	text := func(a answer) string {
		if len(a.Responses) == 0 {
			a.Responses = nil // none, however the read says it
		}
		b, err := json.Marshal(a)
		must(err)
		return string(b)
	}

	str := func(s string) *string { return &s }
	kind := assistant.KindSuggestions
	pending, awaiting := review.StatusPendingReview, review.StatusAwaitingCountersign
	cases := []struct {
		name            string
		who             *identity.User
		filter          review.QueueFilter
		drafts, replies int // what the two reads give, so each case shows what it claims
		code            string
	}{
		{"TheWorkersQueueAndResponses", f.Worker, review.QueueFilter{}, 2, 1, ""},
		{"TheSupervisorsQueueAndResponses", f.Supervisor, review.QueueFilter{}, 0, 1, ""},
		{"TheSupervisorsPendingDrafts", f.Supervisor, review.QueueFilter{Status: &pending}, 0, 1, ""},
		{"AFirstPageOfOne", f.Worker, review.QueueFilter{Limit: 1}, 1, 1, ""},
		{"OneKind", f.Worker, review.QueueFilter{Kind: &kind}, 1, 1, ""},
		{"NoDraftButResponses", f.Worker, review.QueueFilter{CaseID: str("cas_none")}, 0, 1, ""},
		{"DraftsButNoResponses", g.Worker, review.QueueFilter{}, 1, 0, ""},
		{"NeitherOfAnotherTeam", f.Other, review.QueueFilter{}, 0, 0, ""},
		{"AnotherTeamsSupervisor", f.OtherSupervisor, review.QueueFilter{}, 0, 0, ""},
		{"AWorkerAsksForCountersignatures", f.Worker, review.QueueFilter{Status: &awaiting}, 0, 0, countersign.EINVALID},
		{"NoQueueForEthics", f.Ethics, review.QueueFilter{}, 0, 0, countersign.EFORBIDDEN},
		{"ABadCursor", f.Worker, review.QueueFilter{After: "nonsense"}, 0, 0, countersign.EINVALID},
	}
	// The supervisor's queue holds the team's drafts pending review when
	// asked for that status; without it, those and the ones awaiting a
	// countersignature (none here).
	cases[1].drafts, cases[2].drafts = 2, 2
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			actx := storetest.As(ctx, c.who)
			want, got := twoReads(actx, c.filter), oneRead(actx, c.filter)
			if want.Code != c.code || len(want.Drafts) != c.drafts || len(want.Responses) != c.replies {
				t.Fatalf("the two reads give %d drafts, %d responses, error %q %s; the case expects %d, %d, %q",
					len(want.Drafts), len(want.Responses), want.Code, want.Msg, c.drafts, c.replies, c.code)
			}
			if text(got) != text(want) {
				t.Fatalf("one read:\n%s\nthe two reads:\n%s", text(got), text(want))
			}
			if want.Next != "" {
				next := c.filter
				next.After = want.Next
				if w, g := twoReads(actx, next), oneRead(actx, next); text(g) != text(w) || len(w.Drafts) != 1 {
					t.Fatalf("the next page: one read:\n%s\nthe two reads:\n%s", text(g), text(w))
				}
			}
		})
	}

	t.Run("TheCaseMovedToAnotherTeam", func(t *testing.T) {
		if _, err := db.Raw().ExecContext(ctx, db.Raw().Rebind(`UPDATE cases SET team_id = ?, worker_id = ? WHERE id = ?`),
			f.OtherTeam.ID, f.Other.ID, f.Case.ID); err != nil {
			t.Fatal(err)
		}
		for _, u := range []*identity.User{f.Worker, f.Other, f.Supervisor, f.OtherSupervisor} {
			actx := storetest.As(ctx, u)
			if w, g := twoReads(actx, review.QueueFilter{}), oneRead(actx, review.QueueFilter{}); text(g) != text(w) {
				t.Fatalf("%s: one read:\n%s\nthe two reads:\n%s", u.Name, text(g), text(w))
			}
		}
		if w := twoReads(storetest.As(ctx, f.Other), review.QueueFilter{}); len(w.Responses) != 1 {
			t.Fatalf("the new worker sees %d responses waiting, want the case's one", len(w.Responses))
		}
	})
}

// On PostgreSQL the review queue's first page, with the responses
// waiting beside its drafts, is one statement on the drafts and
// responses (pg_stat_statements, in the test's own database).
func TestQueueWithResponsesIsOneStatement(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t, storetest.PostgresDSN(t))
	ctx := context.Background()
	count := countStatements(t, db)
	f := storetest.MustSeed(t, db)
	storetest.MustDraft(t, db, f, assistant.KindSummary)
	for i, empty := range []bool{false, true} {
		count.reset()
		filter := review.QueueFilter{}
		if empty {
			filter.CaseID = new(string)
		}
		drafts, _, _, err := db.FindQueueWithResponses(storetest.As(ctx, f.Worker), filter)
		if err != nil {
			t.Fatal(err)
		}
		if len(drafts) != 1-i {
			t.Fatalf("%d drafts in the queue, want %d", len(drafts), 1-i)
		}
		if calls := count.calls(`drafts|client_responses`); calls != 1 {
			t.Fatalf("the queue (empty: %v) and its responses took %d statements, want 1", empty, calls)
		}
	}
}
