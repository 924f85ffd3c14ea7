package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/countersign/countersign/api"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// blockingDrafter generates a draft only when the test lets it: started
// is closed when the model call begins, and the call returns once release
// is closed.
type blockingDrafter struct {
	started, release chan struct{}
}

func (d *blockingDrafter) Draft(ctx context.Context, req assistant.Request) (*assistant.Result, error) {
	close(d.started)
	select {
	case <-d.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return (&assistant.Drafter{Model: assistant.Extractive{}}).Draft(ctx, req)
}

// countingStatus counts the status reads of waiting GETs.
type countingStatus struct {
	review.Store
	of review.StatusReader
	n  atomic.Int32
}

func (c *countingStatus) DraftStatus(ctx context.Context, id string) (review.Status, error) {
	c.n.Add(1)
	return c.of.DraftStatus(ctx, id)
}

// held is the answer to a request sent with Prefer (waitGet, waitPost):
// its response and body, the draft it returned (read from a 200 or a 202),
// the preference the service applied and how long it took.
type held struct {
	resp    *http.Response
	status  int
	raw     []byte
	draft   review.Draft
	applied string
	took    time.Duration
	err     error
}

// sendHeld sends method path as role with body (JSON, or none when nil)
// and, when prefer is not "", Prefer: prefer.
func (b *testBundle) sendHeld(ctx context.Context, method, path, role string, body any, prefer string) held {
	var r io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		r = bytes.NewReader(raw)
	}
	req, _ := http.NewRequestWithContext(ctx, method, b.srv.URL+path, r)
	req.Header.Set("Authorization", "Bearer "+b.tokens[role])
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if prefer != "" {
		req.Header.Set("Prefer", prefer)
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return held{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	h := held{resp: resp, status: resp.StatusCode, applied: resp.Header.Get("Preference-Applied")}
	h.raw, h.err = io.ReadAll(resp.Body)
	h.took = time.Since(start)
	if h.err == nil && (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusAccepted) {
		h.err = json.Unmarshal(h.raw, &h.draft)
	}
	return h
}

// waitGet is a GET /v1/drafts/{id} with Prefer: wait=N, as role.
func (b *testBundle) waitGet(ctx context.Context, role, id, prefer string) held {
	return b.sendHeld(ctx, http.MethodGet, "/v1/drafts/"+id, role, nil, prefer)
}

// caseReads counts the access events of staff reads written so far.
func (b *testBundle) caseReads(t *testing.T) int {
	t.Helper()
	var a, c int
	if err := b.db.Raw().Get(&a, `SELECT COUNT(*) FROM audit_pending WHERE action = 'case.read'`); err != nil {
		t.Fatal(err)
	}
	if err := b.db.Raw().Get(&c, `SELECT COUNT(*) FROM audit_event WHERE action = 'case.read'`); err != nil {
		t.Fatal(err)
	}
	return a + c
}

// queueDraft requests a draft as the worker over HTTP: 202, queued.
func (b *testBundle) queueDraft(t *testing.T) string {
	t.Helper()
	var d review.Draft
	b.call(t, "worker", "POST", "/v1/cases/"+b.f.Case.ID+"/drafts", map[string]any{"kind": "summary"}, 202, &d)
	if d.Status != review.StatusQueued {
		t.Fatalf("requested draft is %s", d.Status)
	}
	return d.ID
}

// TestDraftWait: GET /v1/drafts/{id} with Prefer: wait=N holds the request
// while the draft is being generated, on both databases.
func TestDraftWait(t *testing.T) {
	t.Parallel()
	for name, dsnOf := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dsn := dsnOf(t)
			// Every handle of this test is on one database, as replicas are.
			open := storetest.Opener(func(t testing.TB) *sqlstore.DB { return storetest.MustOpen(t, dsn) })
			// The signal alone wakes a waiter here: its own re-reads
			// come an hour apart, so a wake-up can only be the Runner's.
			watch := &review.Watch{Recheck: time.Hour}
			b := setup(t, open, func(s *api.Server) { s.DraftWatch = watch })
			ctx := context.Background()

			t.Run("AnswersAsSoonAsThisProcessGeneratesTheDraft", func(t *testing.T) {
				id := b.queueDraft(t)
				reads := b.caseReads(t)
				drafter := &blockingDrafter{started: make(chan struct{}), release: make(chan struct{})}
				runner := &review.Runner{Store: b.db, Drafter: drafter, Owner: "test", Watch: watch}
				ran := make(chan error, 1)
				go func() { _, err := runner.RunOne(ctx); ran <- err }()
				<-drafter.started // generating now

				got := make(chan held, 1)
				// More than the most is the most (30 s); other preferences beside it are ignored.
				go func() { got <- b.waitGet(ctx, "worker", id, "respond-async, wait=100") }()
				// Let the model answer only once the GET waits on the
				// draft, so the answer must come from the signal.
				for watch.Holding() == 0 {
					select {
					case g := <-got:
						t.Fatalf("answered before the draft was generated: %+v", g)
					case <-time.After(time.Millisecond):
					}
				}
				close(drafter.release)
				if err := <-ran; err != nil {
					t.Fatal(err)
				}
				g := <-got
				if g.err != nil || g.status != 200 || g.draft.Status != review.StatusPendingReview || g.draft.Content == nil {
					t.Fatalf("waited GET: %d %s %v", g.status, g.draft.Status, g.err)
				}
				if g.applied != "wait=30" {
					t.Errorf("Preference-Applied %q, want wait=30", g.applied)
				}
				if g.took >= 30*time.Second {
					t.Errorf("answered after %v: at the deadline, not at the signal", g.took)
				}
				// Waiting logged nothing; the answer with content logged its one read.
				if n := b.caseReads(t) - reads; n != 1 {
					t.Errorf("%d access events for one read of the draft", n)
				}
				if n := watch.Waiters(); n != 0 {
					t.Errorf("%d waiters left", n)
				}
			})

			t.Run("AnswersAfterNSecondsWhileStillGenerating", func(t *testing.T) {
				id := b.queueDraft(t)
				reads, events := b.caseReads(t), b.events(t)
				g := b.waitGet(ctx, "worker", id, "wait=1")
				if g.err != nil || g.status != 200 || g.draft.Status != review.StatusQueued || g.draft.Content != nil {
					t.Fatalf("waited GET: %d %s %v", g.status, g.draft.Status, g.err)
				}
				if g.applied != "wait=1" || g.took < time.Second {
					t.Errorf("Preference-Applied %q after %v, want wait=1 after a second", g.applied, g.took)
				}
				if b.caseReads(t) != reads || b.events(t) != events {
					t.Error("waiting on a draft with no content yet wrote an audit event")
				}
				// Generate it, so later cases find no queued draft of this one.
				if err := (&review.Runner{Store: b.db, Drafter: &assistant.Drafter{Model: assistant.Extractive{}}, Owner: "test"}).Drain(ctx); err != nil {
					t.Fatal(err)
				}
			})

			t.Run("SeesADraftAnotherReplicaGenerated", func(t *testing.T) {
				// A watch that re-reads soon, and a second store handle
				// on the same database generating the draft: no signal
				// reaches this process.
				rb := setup(t, open, func(s *api.Server) {
					s.DraftWatch = &review.Watch{Recheck: 5 * time.Millisecond, MaxRecheck: 20 * time.Millisecond}
				})
				id := rb.queueDraft(t)
				got := make(chan held, 1)
				go func() { got <- rb.waitGet(ctx, "worker", id, "wait=30") }()
				replica := storetest.MustOpen(t, dsn)
				if err := (&review.Runner{Store: replica, Drafter: &assistant.Drafter{Model: assistant.Extractive{}}, Owner: "replica"}).Drain(ctx); err != nil {
					t.Fatal(err)
				}
				g := <-got
				if g.err != nil || g.status != 200 || g.draft.Status != review.StatusPendingReview {
					t.Fatalf("waited GET: %d %s %v", g.status, g.draft.Status, g.err)
				}
				if g.took >= 30*time.Second {
					t.Errorf("answered after %v: at the deadline, not by re-reading", g.took)
				}
			})

			t.Run("NoStatusReadsWhileThisProcessGeneratesIt", func(t *testing.T) {
				// Re-reads every millisecond, but the draft is generated
				// here: the waiter reads its status when it begins, and
				// the runner's Done ends the wait, with no read between.
				here := &review.Watch{Recheck: time.Millisecond, MaxRecheck: time.Millisecond}
				var reads *countingStatus
				hb := setup(t, open, func(s *api.Server) {
					reads = &countingStatus{Store: s.Review, of: s.Review.(review.StatusReader)}
					s.Review, s.DraftWatch = reads, here
				})
				id := hb.queueDraft(t)
				drafter := &blockingDrafter{started: make(chan struct{}), release: make(chan struct{})}
				runner := &review.Runner{Store: hb.db, Drafter: drafter, Owner: "test", Watch: here}
				ran := make(chan error, 1)
				go func() { _, err := runner.RunOne(ctx); ran <- err }()
				<-drafter.started
				got := make(chan held, 1)
				go func() { got <- hb.waitGet(ctx, "worker", id, "wait=30") }()
				for here.Holding() == 0 {
					time.Sleep(time.Millisecond)
				}
				// A window in which re-reads every millisecond would
				// show; it hides no race, since none may happen in it.
				time.Sleep(50 * time.Millisecond)
				close(drafter.release)
				if err := <-ran; err != nil {
					t.Fatal(err)
				}
				if g := <-got; g.err != nil || g.status != 200 || g.draft.Status != review.StatusPendingReview {
					t.Fatalf("waited GET: %d %s %v", g.status, g.draft.Status, g.err)
				}
				if n := reads.n.Load(); n != 1 {
					t.Errorf("%d status reads while this process generated the draft, want 1 (before the wait; its end wakes the waiter)", n)
				}
			})

			t.Run("StopsWhenTheClientGoesAway", func(t *testing.T) {
				id := b.queueDraft(t)
				cctx, cancel := context.WithCancel(ctx)
				got := make(chan held, 1)
				go func() { got <- b.waitGet(cctx, "worker", id, "wait=30") }()
				for watch.Waiters() == 0 {
					select {
					case g := <-got:
						t.Fatalf("answered before waiting: %+v", g)
					case <-time.After(time.Millisecond):
					}
				}
				cancel()
				if g := <-got; !errors.Is(g.err, context.Canceled) {
					t.Fatalf("the client's GET ended with %v", g.err)
				}
				// The server lets go of its waiter (it re-reads only
				// hourly, so this is the request's context ending).
				deadline := time.Now().Add(10 * time.Second)
				for watch.Waiters() != 0 {
					if time.Now().After(deadline) {
						t.Fatal("the server kept waiting for a client that went away")
					}
					time.Sleep(time.Millisecond)
				}
			})

			t.Run("RefusesAForbiddenReaderWithoutWaiting", func(t *testing.T) {
				id := b.queueDraft(t)
				events := b.events(t)
				g := b.waitGet(ctx, "other", id, "wait=30")
				if g.err != nil || g.status != http.StatusForbidden || g.applied != "" {
					t.Fatalf("another team's worker: %d, Preference-Applied %q, %v", g.status, g.applied, g.err)
				}
				if g.took >= 30*time.Second {
					t.Errorf("refused after %v", g.took)
				}
				if g := b.waitGet(ctx, "worker", "drf_missing", "wait=30"); g.status != http.StatusNotFound || g.applied != "" {
					t.Fatalf("a missing draft: %d, Preference-Applied %q", g.status, g.applied)
				}
				if b.events(t) != events {
					t.Error("a refused read wrote an audit event")
				}
			})

			t.Run("PreferenceAppliedOnlyWhenHeld", func(t *testing.T) {
				id := b.queueDraft(t)
				for _, prefer := range []string{"", "wait=soon", "wait=0", "wait=-1", "respond-async"} {
					if g := b.waitGet(ctx, "worker", id, prefer); g.status != 200 || g.applied != "" || g.draft.Status != review.StatusQueued {
						t.Errorf("Prefer %q: %d, Preference-Applied %q, %s", prefer, g.status, g.applied, g.draft.Status)
					}
				}
				// A full watch answers at once, as without the header.
				fullWatch := &review.Watch{MaxWaiters: 1}
				hold, _ := fullWatch.Watch("drf_elsewhere")
				defer hold.Stop()
				full := setup(t, open, func(s *api.Server) { s.DraftWatch = fullWatch })
				if g := full.waitGet(ctx, "worker", full.queueDraft(t), "wait=30"); g.status != 200 || g.applied != "" || g.draft.Status != review.StatusQueued || g.took >= 30*time.Second {
					t.Errorf("a full watch: %d, Preference-Applied %q, %s after %v", g.status, g.applied, g.draft.Status, g.took)
				}
				if err := (&review.Runner{Store: b.db, Drafter: &assistant.Drafter{Model: assistant.Extractive{}}, Owner: "test"}).Drain(ctx); err != nil {
					t.Fatal(err)
				}
				// A ready draft is answered at once, not held.
				if g := b.waitGet(ctx, "worker", id, "wait=5"); g.status != 200 || g.applied != "" || g.draft.Status != review.StatusPendingReview {
					t.Errorf("a ready draft: %d, Preference-Applied %q, %s", g.status, g.applied, g.draft.Status)
				}
			})
		})
	}
}
