package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/api"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// gateDrafter generates each draft only when the test lets it: a model
// call sends on started, then answers with what release sends (nil: the
// draft; an error: the model's failure).
type gateDrafter struct {
	started chan struct{}
	release chan error
}

func newGateDrafter() *gateDrafter {
	return &gateDrafter{started: make(chan struct{}, 10), release: make(chan error, 10)}
}

func (d *gateDrafter) Draft(ctx context.Context, req assistant.Request) (*assistant.Result, error) {
	d.started <- struct{}{}
	select {
	case err := <-d.release:
		if err != nil {
			return nil, err
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return (&assistant.Drafter{Model: assistant.Extractive{}}).Draft(ctx, req)
}

// waitPost is a POST /v1/cases/{id}/drafts of a summary as the worker,
// with prefer as its Prefer header ("" for none).
func (b *testBundle) waitPost(ctx context.Context, prefer string) held {
	return b.sendHeld(ctx, http.MethodPost, "/v1/cases/"+b.f.Case.ID+"/drafts", "worker", map[string]any{"kind": "summary"}, prefer)
}

// checked fails the test on a request that failed or an answer outside
// the OpenAPI document.
func (p held) checked(t *testing.T, b *testBundle) held {
	t.Helper()
	if p.err != nil {
		t.Fatal(p.err)
	}
	b.spec.check(t, http.MethodPost, p.resp.Request.URL.Path, p.resp, p.raw)
	return p
}

// TestDraftRequestWait: POST /v1/cases/{id}/drafts with Prefer: wait=N
// holds the request until its draft is generated here, and answers with
// the draft's status from what the drafting workers told the watch,
// without reading it from the store; on both databases.
func TestDraftRequestWait(t *testing.T) {
	t.Parallel()
	for name, dsnOf := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dsn := dsnOf(t)
			open := storetest.Opener(func(t testing.TB) *sqlstore.DB { return storetest.MustOpen(t, dsn) })
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// The signal alone answers a waiter here: its own re-reads
			// come an hour apart.
			watch := &review.Watch{Recheck: time.Hour}
			drafter := newGateDrafter()
			runner := &review.Runner{Drafter: drafter, Owner: "test", Workers: 1, Poll: time.Hour, Watch: watch}
			var reads *countingStatus
			b := setup(t, open, func(s *api.Server) {
				reads = &countingStatus{Store: s.Review, of: s.Review.(review.StatusReader)}
				s.Review, s.DraftWatch, s.DraftQueued = reads, watch, runner.Wake
			})
			runner.Store = b.db
			go runner.Run(ctx)

			// generate answers the model call of the draft being
			// generated with err (nil: the draft).
			generate := func(err error) {
				<-drafter.started
				drafter.release <- err
			}
			// waiting returns the POST's answer, failing the test if it
			// came before the model was called.
			post := func(prefer string) <-chan held {
				got := make(chan held, 1)
				go func() { got <- b.waitPost(ctx, prefer) }()
				return got
			}

			t.Run("HeldUntilReady", func(t *testing.T) {
				n := reads.n.Load()
				got := post("wait=100")
				<-drafter.started // generating now
				select {
				case p := <-got:
					t.Fatalf("answered before the draft was generated: %d %s", p.resp.StatusCode, p.raw)
				default:
				}
				drafter.release <- nil
				p := (<-got).checked(t, b)
				if p.resp.StatusCode != http.StatusOK || p.draft.Status != review.StatusPendingReview || p.draft.Content != nil {
					t.Fatalf("held request: %d %s %s", p.resp.StatusCode, p.draft.Status, p.raw)
				}
				if p.applied != "wait=30" || p.resp.Header.Get("Location") != "/v1/drafts/"+p.draft.ID {
					t.Errorf("Preference-Applied %q, Location %q", p.applied, p.resp.Header.Get("Location"))
				}
				if m := reads.n.Load() - n; m != 0 {
					t.Errorf("%d status reads for a draft woken and generated here, want none", m)
				}
				// The truth, read with a plain GET: ready, with its content.
				var d review.Draft
				b.call(t, "worker", "GET", "/v1/drafts/"+p.draft.ID, nil, 200, &d)
				if d.Status != review.StatusPendingReview || d.Content == nil {
					t.Fatalf("the draft reads as %s", d.Status)
				}
				if n := watch.Waiters(); n != 0 {
					t.Errorf("%d waiters left", n)
				}
			})

			t.Run("AFailedDraft", func(t *testing.T) {
				n := reads.n.Load()
				got := post("wait=30")
				generate(countersign.Errorf(countersign.EINVALID, "The model refused the request."))
				p := (<-got).checked(t, b)
				if p.resp.StatusCode != http.StatusOK || p.draft.Status != review.StatusFailed || p.applied != "wait=30" {
					t.Fatalf("held request: %d %s, Preference-Applied %q", p.resp.StatusCode, p.draft.Status, p.applied)
				}
				if m := reads.n.Load() - n; m != 0 {
					t.Errorf("%d status reads, want none", m)
				}
				var d review.Draft
				b.call(t, "worker", "GET", "/v1/drafts/"+p.draft.ID, nil, 200, &d)
				if d.Status != review.StatusFailed {
					t.Fatalf("the draft reads as %s", d.Status)
				}
			})

			t.Run("TheWaitEndsFirst", func(t *testing.T) {
				got := post("wait=1")
				<-drafter.started
				p := (<-got).checked(t, b)
				drafter.release <- nil
				if p.resp.StatusCode != http.StatusAccepted || p.draft.Status != review.StatusGenerating || p.applied != "wait=1" || p.took < time.Second {
					t.Fatalf("held request: %d %s, Preference-Applied %q, after %v", p.resp.StatusCode, p.draft.Status, p.applied, p.took)
				}
			})

			t.Run("NoPreferAnswersAtOnce", func(t *testing.T) {
				n := reads.n.Load()
				for _, prefer := range []string{"", "respond-async", "wait=0", "wait=soon"} {
					got := post(prefer)
					p := (<-got).checked(t, b)
					generate(nil)
					if p.resp.StatusCode != http.StatusAccepted || p.draft.Status != review.StatusQueued || p.applied != "" {
						t.Errorf("Prefer %q: %d %s, Preference-Applied %q", prefer, p.resp.StatusCode, p.draft.Status, p.applied)
					}
				}
				if m := reads.n.Load() - n; m != 0 {
					t.Errorf("%d status reads, want none", m)
				}
			})

			t.Run("WithoutARunnerHereReadsTheStatus", func(t *testing.T) {
				// No drafting workers in this process (another replica
				// generates the draft): the status is read, and read again
				// until it is ready.
				elsewhere := &review.Watch{Recheck: 5 * time.Millisecond, MaxRecheck: 20 * time.Millisecond}
				var reads *countingStatus
				rb := setup(t, open, func(s *api.Server) {
					reads = &countingStatus{Store: s.Review, of: s.Review.(review.StatusReader)}
					s.Review, s.DraftWatch = reads, elsewhere
				})
				got := make(chan held, 1)
				go func() { got <- rb.waitPost(ctx, "wait=30") }()
				for elsewhere.Holding() == 0 {
					select {
					case p := <-got:
						t.Fatalf("answered before waiting: %d %s", p.resp.StatusCode, p.raw)
					case <-time.After(time.Millisecond):
					}
				}
				replica := storetest.MustOpen(t, dsn)
				if err := (&review.Runner{Store: replica, Drafter: &assistant.Drafter{Model: assistant.Extractive{}}, Owner: "replica"}).Drain(ctx); err != nil {
					t.Fatal(err)
				}
				p := (<-got).checked(t, rb)
				if p.resp.StatusCode != http.StatusOK || p.draft.Status != review.StatusPendingReview || p.applied != "wait=30" {
					t.Fatalf("held request: %d %s, Preference-Applied %q", p.resp.StatusCode, p.draft.Status, p.applied)
				}
				if p.took >= 30*time.Second {
					t.Errorf("answered after %v: at the deadline, not by re-reading", p.took)
				}
				if reads.n.Load() == 0 {
					t.Error("no status read for a draft this process does not generate")
				}
			})
		})
	}
}

// TestDraftRequestWaitWorkersBusy: a draft woken here whose worker has not
// claimed it yet (the workers here are busy) is read again from time to
// time, so one another replica generates meanwhile answers the request
// without waiting for the workers here.
func TestDraftRequestWaitWorkersBusy(t *testing.T) {
	t.Parallel()
	for name, dsnOf := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dsn := dsnOf(t)
			open := storetest.Opener(func(t testing.TB) *sqlstore.DB { return storetest.MustOpen(t, dsn) })
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			watch := &review.Watch{Recheck: 5 * time.Millisecond, MaxRecheck: 20 * time.Millisecond}
			drafter := newGateDrafter()
			runner := &review.Runner{Drafter: drafter, Owner: "test", Workers: 1, Poll: time.Hour, Watch: watch}
			b := setup(t, open, func(s *api.Server) { s.DraftWatch, s.DraftQueued = watch, runner.Wake })
			runner.Store = b.db
			go runner.Run(ctx)
			defer func() { drafter.release <- nil }() // the busy worker's draft

			// The one worker here is busy with another draft.
			if p := b.waitPost(ctx, ""); p.err != nil || p.resp.StatusCode != http.StatusAccepted {
				t.Fatalf("first request: %v", p.err)
			}
			<-drafter.started
			got := make(chan held, 1)
			go func() { got <- b.waitPost(ctx, "wait=30") }()
			for watch.Holding() == 0 {
				select {
				case p := <-got:
					t.Fatalf("answered before waiting: %d %s", p.resp.StatusCode, p.raw)
				case <-time.After(time.Millisecond):
				}
			}
			replica := storetest.MustOpen(t, dsn)
			if err := (&review.Runner{Store: replica, Drafter: &assistant.Drafter{Model: assistant.Extractive{}}, Owner: "replica"}).Drain(ctx); err != nil {
				t.Fatal(err)
			}
			select {
			case p := <-got:
				p = p.checked(t, b)
				if p.resp.StatusCode != http.StatusOK || p.draft.Status != review.StatusPendingReview || p.applied != "wait=30" {
					t.Fatalf("held request: %d %s, Preference-Applied %q", p.resp.StatusCode, p.draft.Status, p.applied)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the request waited for the busy workers here, not reading the draft another replica generated")
			}
		})
	}
}
