package review_test

import (
	"context"
	"testing"
	"time"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/mock"
	"github.com/countersign/countersign/review"
)

// TestWatchKnowsADraftWokenHere: a waiter registered before its draft was
// woken here learns, without reading the store, that the draft is queued
// (woken), generating (claimed here) and how its end here committed
// (pending_review or failed); anything the watch cannot vouch for
// (another end, a worker that did not claim it, a draft no wake-up here
// was recorded for) says so, and wakes the waiter when it changes.
func TestWatchKnowsADraftWokenHere(t *testing.T) {
	t.Parallel()
	known := func(t *testing.T, x *review.Waiter, wantSt review.Status, wantOK bool) {
		t.Helper()
		if _, st, ok := x.Known(); st != wantSt || ok != wantOK {
			t.Fatalf("Known: %q %v, want %q %v", st, ok, wantSt, wantOK)
		}
	}
	for _, end := range []review.Status{review.StatusPendingReview, review.StatusFailed} {
		t.Run("WokenThenDone/"+string(end), func(t *testing.T) {
			w := &review.Watch{}
			x, _ := w.Watch("drf_1")
			defer x.Stop()
			known(t, x, "", false)
			w.Woken("drf_1")
			known(t, x, review.StatusQueued, true)
			w.Generating("drf_1")
			ch, _, _ := x.Known()
			known(t, x, review.StatusGenerating, true)
			w.DoneAs("drf_1", end)
			if !closed(ch) {
				t.Fatal("its end did not wake the waiter")
			}
			known(t, x, end, true)
		})
	}
	t.Run("EndsTheWatchDoesNotVouchFor", func(t *testing.T) {
		for _, end := range []review.Status{"", review.StatusQueued, review.StatusGenerating, review.StatusApproved} {
			w := &review.Watch{}
			x, _ := w.Watch("drf_1")
			w.Woken("drf_1")
			w.Generating("drf_1")
			w.DoneAs("drf_1", end)
			known(t, x, "", false)
			x.Stop()
		}
		// Done is an end of unknown outcome.
		w := &review.Watch{}
		x, _ := w.Watch("drf_1")
		defer x.Stop()
		w.Woken("drf_1")
		w.Generating("drf_1")
		w.Done("drf_1")
		known(t, x, "", false)
	})
	t.Run("WokenButClaimedElsewhere", func(t *testing.T) {
		w := &review.Watch{}
		x, _ := w.Watch("drf_1")
		defer x.Stop()
		w.Woken("drf_1")
		ch, _, _ := x.Known()
		w.Missed("drf_1")
		if !closed(ch) {
			t.Fatal("a worker that did not claim the draft did not wake its waiter")
		}
		known(t, x, "", false)
		// Its end elsewhere is not known here; a later Done here says
		// nothing either.
		w.Done("drf_1")
		known(t, x, "", false)
	})
	t.Run("ClaimedHereByAnotherWorker", func(t *testing.T) {
		// A poll claimed the draft before the woken worker, which then
		// misses it: the draft is still generated here.
		w := &review.Watch{}
		x, _ := w.Watch("drf_1")
		defer x.Stop()
		w.Woken("drf_1")
		w.Generating("drf_1")
		ch, _, _ := x.Known()
		w.Missed("drf_1")
		if closed(ch) {
			t.Fatal("the woken worker's miss woke the waiter of a draft generated here")
		}
		known(t, x, review.StatusGenerating, true)
		w.DoneAs("drf_1", review.StatusPendingReview)
		known(t, x, review.StatusPendingReview, true)
	})
	t.Run("NotWokenHere", func(t *testing.T) {
		w := &review.Watch{}
		// A wake-up before anyone waits is not kept.
		w.Woken("drf_1")
		x, _ := w.Watch("drf_1")
		defer x.Stop()
		known(t, x, "", false)
		// A draft claimed here by a poll, with no wake-up recorded: its
		// end is not vouched for (a GET's waiter reads it anyway).
		w.Generating("drf_1")
		known(t, x, "", false)
		w.DoneAs("drf_1", review.StatusPendingReview)
		known(t, x, "", false)
	})
	t.Run("ForgottenWithItsLastWaiter", func(t *testing.T) {
		w := &review.Watch{}
		x, _ := w.Watch("drf_1")
		w.Woken("drf_1")
		w.Generating("drf_1")
		w.DoneAs("drf_1", review.StatusPendingReview)
		x.Stop()
		y, _ := w.Watch("drf_1")
		defer y.Stop()
		known(t, y, "", false)
	})
}

// TestRunnerTellsWatchOfTheDraftItWasWokenFor: the worker woken for a draft
// a waiter here registered for tells the watch of its claim and of the
// status its end committed (after the store's write returned), or, when
// the draft was claimed elsewhere, that it missed it.
func TestRunnerTellsWatchOfTheDraftItWasWokenFor(t *testing.T) {
	t.Parallel()
	wait := func(t *testing.T, ch <-chan struct{}) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("the waiter was not woken")
		}
	}
	for _, tc := range []struct {
		name string
		err  error // the model's
		// reported is the status the store says a completion left the
		// draft in (review.CompletionReporter); "" for a store that
		// cannot say.
		reported review.Status
		want     review.Status
	}{
		{"Completed", nil, review.StatusPendingReview, review.StatusPendingReview},
		{"CompletedAndSupersededAtOnce", nil, review.StatusSuperseded, review.StatusSuperseded},
		{"CompletedByAStoreThatCannotSay", nil, "", ""},
		{"FailedForGood", &assistant.OutputError{Reason: "statement 2 has no citation"}, review.StatusPendingReview, review.StatusFailed},
		{"QueuedForARetry", &assistant.ModelError{Op: "t", Reason: "overloaded", Temporary: true}, review.StatusPendingReview, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := newQueue()
			s := &claimsByID{JobStore: q.store(), q: q, asked: make(chan string, 10)}
			written := make(chan struct{}, 1)
			s.FailJobFunc = func(ctx context.Context, job *review.Job, reason string, retryAt *time.Time) error {
				written <- struct{}{}
				return nil
			}
			var store review.JobStore = s
			if tc.reported != "" {
				store = reportingStore{s, tc.reported}
			}
			w := &review.Watch{}
			r := &review.Runner{Store: store, Workers: 1, Owner: "t", Poll: time.Hour, Backoff: time.Hour, Watch: w,
				Drafter: &mock.Drafter{DraftFunc: func(context.Context, assistant.Request) (*assistant.Result, error) {
					return &assistant.Result{}, tc.err
				}}}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go r.Run(ctx)
			if <-q.claimed {
				t.Fatal("the claim at start found a draft in an empty queue")
			}
			x, _ := w.Watch("drf_1")
			defer x.Stop()
			q.add("drf_1")
			ch, _, _ := x.Known() // taken before the wake-up, as the request does
			r.Wake("drf_1")
			wait(t, ch)
			if id := <-s.asked; id != "drf_1" {
				t.Fatalf("the worker asked for %s", id)
			}
			if _, st, ok := x.Known(); st != tc.want || ok != (tc.want != "") {
				t.Fatalf("after its end: %q %v, want %q", st, ok, tc.want)
			}
			if tc.err != nil {
				select {
				case <-written:
				default:
					t.Fatal("the watch learnt of the failure before the store wrote it")
				}
			} else {
				select {
				case <-q.done:
				default:
					t.Fatal("the watch learnt of the completion before the store wrote it")
				}
			}
		})
	}
	t.Run("ClaimedElsewhere", func(t *testing.T) {
		q := newQueue()
		s := &claimsByID{JobStore: q.store(), q: q, asked: make(chan string, 10)}
		w := &review.Watch{}
		r := &review.Runner{Store: s, Drafter: instant, Workers: 1, Owner: "t", Poll: time.Hour, Watch: w}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go r.Run(ctx)
		if <-q.claimed {
			t.Fatal("the claim at start found a draft in an empty queue")
		}
		x, _ := w.Watch("drf_gone")
		defer x.Stop()
		ch, _, _ := x.Known()
		r.Wake("drf_gone") // queued here, then claimed by another replica
		wait(t, ch)
		if id := <-s.asked; id != "drf_gone" {
			t.Fatalf("the worker asked for %s", id)
		}
		if _, st, ok := x.Known(); ok {
			t.Fatalf("a draft claimed elsewhere reads as %q here", st)
		}
	})
}

// reportingStore is a JobStore whose completion says the status it left
// the draft in (review.CompletionReporter).
type reportingStore struct {
	*claimsByID
	status review.Status
}

func (s reportingStore) CompleteJobStatus(ctx context.Context, job *review.Job, res *assistant.Result) (review.Status, error) {
	return s.status, s.CompleteJob(ctx, job, res)
}
