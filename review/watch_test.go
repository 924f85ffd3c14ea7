package review_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/mock"
	"github.com/countersign/countersign/review"
)

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestWatch(t *testing.T) {
	t.Run("DoneWakesTheDraftsWaitersOnly", func(t *testing.T) {
		var w review.Watch
		a1, ok1 := w.Watch("a")
		a2, ok2 := w.Watch("a")
		b, ok3 := w.Watch("b")
		if !ok1 || !ok2 || !ok3 {
			t.Fatal("an empty watch refused a waiter")
		}
		ca1, ca2, cb := a1.Changed(), a2.Changed(), b.Changed()
		w.Done("a")
		if !closed(ca1) || !closed(ca2) {
			t.Error("Done(a) did not wake a's waiters")
		}
		if closed(cb) {
			t.Error("Done(a) woke b's waiter")
		}
		// After a wake-up the waiter waits on a fresh channel: a retry
		// queued again is waited for again.
		if closed(a1.Changed()) {
			t.Error("the channel taken after Done is already closed")
		}
		w.Done("c") // nobody waits: nothing happens
		a1.Stop()
		a1.Stop() // twice is once
		a2.Stop()
		b.Stop()
		if n := w.Waiters(); n != 0 {
			t.Errorf("%d waiters after every Stop", n)
		}
	})

	t.Run("HoldingCountsHeldWaitersOnce", func(t *testing.T) {
		var w review.Watch
		x, _ := w.Watch("a")
		y, _ := w.Watch("a")
		if n := w.Holding(); n != 0 {
			t.Fatalf("%d holding before any Hold", n)
		}
		x.Hold()
		x.Hold() // twice is once
		if n := w.Holding(); n != 1 {
			t.Fatalf("%d holding after one waiter's Hold, want 1", n)
		}
		y.Stop() // never held
		if n := w.Holding(); n != 1 {
			t.Fatalf("%d holding after a waiter that held nothing stopped, want 1", n)
		}
		x.Stop()
		x.Stop()
		if n, m := w.Holding(), w.Waiters(); n != 0 || m != 0 {
			t.Fatalf("%d holding and %d waiters after every Stop", n, m)
		}
	})

	t.Run("BoundedByMaxWaiters", func(t *testing.T) {
		w := review.Watch{MaxWaiters: 2}
		x, _ := w.Watch("a")
		y, _ := w.Watch("b")
		if _, ok := w.Watch("c"); ok {
			t.Fatal("a full watch took a third waiter")
		}
		x.Stop()
		z, ok := w.Watch("c")
		if !ok {
			t.Fatal("a place freed by Stop was not given again")
		}
		y.Stop()
		z.Stop()
	})

	t.Run("CloseWakesEveryWaiterAndRefusesNewOnes", func(t *testing.T) {
		var w review.Watch
		x, _ := w.Watch("a")
		c := x.Closed()
		if closed(c) {
			t.Fatal("closed before Close")
		}
		w.Close()
		w.Close()
		if !closed(c) {
			t.Error("Close did not wake the waiter")
		}
		if _, ok := w.Watch("a"); ok {
			t.Error("a closed watch took a waiter")
		}
		x.Stop()
	})

	t.Run("RechecksGrowToTheirBound", func(t *testing.T) {
		for _, tc := range []struct {
			w    *review.Watch
			want []time.Duration
		}{
			{&review.Watch{}, []time.Duration{20, 40, 80, 160, 320, 500, 500}},
			{&review.Watch{Recheck: 5 * time.Millisecond, MaxRecheck: 12 * time.Millisecond}, []time.Duration{5, 10, 12, 12}},
		} {
			x, _ := tc.w.Watch("a")
			for i, want := range tc.want {
				if got := x.Recheck(); got != want*time.Millisecond {
					t.Errorf("%+v: recheck %d is %v, want %v ms", tc.w.MaxRecheck, i, got, want)
				}
			}
			x.Stop()
		}
	})

	t.Run("NilWatchHasNoRoom", func(t *testing.T) {
		var w *review.Watch
		if _, ok := w.Watch("a"); ok {
			t.Error("a nil watch took a waiter")
		}
		w.Done("a") // the Runner without a watch
		w.Close()
	})

	t.Run("ConcurrentWaitersAndSignals", func(t *testing.T) {
		// Under -race: waiters come and go while drafts are signalled.
		var w review.Watch
		var wg sync.WaitGroup
		for i := range 8 {
			id := string(rune('a' + i%3))
			wg.Go(func() {
				for range 200 {
					x, ok := w.Watch(id)
					if !ok {
						t.Error("refused below the bound")
						return
					}
					_ = x.Changed()
					x.Stop()
				}
			})
			wg.Go(func() {
				for range 200 {
					w.Done(id)
				}
			})
		}
		wg.Wait()
		if n := w.Waiters(); n != 0 {
			t.Errorf("%d waiters left", n)
		}
	})
}

func TestStatusGenerating(t *testing.T) {
	for _, s := range review.Statuses {
		want := s == review.StatusQueued || s == review.StatusGenerating
		if s.Generating() != want {
			t.Errorf("%s.Generating() = %v", s, !want)
		}
	}
}

// TestRunnerSignalsWatch: the drafting workers tell the watch of a draft
// they claimed (Here while they generate it) and of its end, after its
// store write returned (committed), however it ended: one queued again
// for a retry wakes its waiters too, who then read its status on their
// own again.
func TestRunnerSignalsWatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		err    error // the model's
		signal bool
	}{
		{"Completed", nil, true},
		{"FailedForGood", &assistant.OutputError{Reason: "statement 2 has no citation"}, true},
		{"QueuedForARetry", &assistant.ModelError{Op: "t", Reason: "overloaded", Temporary: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &review.Watch{}
			x, _ := w.Watch("drf_1")
			defer x.Stop()
			changed := x.Changed()
			o := &outcome{}
			store := oneJob(o)
			early, here := false, false
			complete, fail := store.CompleteJobFunc, store.FailJobFunc
			store.CompleteJobFunc = func(ctx context.Context, job *review.Job, res *assistant.Result) error {
				early = early || closed(changed)
				return complete(ctx, job, res)
			}
			store.FailJobFunc = func(ctx context.Context, job *review.Job, reason string, retryAt *time.Time) error {
				early = early || closed(changed)
				return fail(ctx, job, reason, retryAt)
			}
			r := &review.Runner{Store: store, Owner: "t", Backoff: time.Hour, Watch: w,
				Drafter: &mock.Drafter{DraftFunc: func(context.Context, assistant.Request) (*assistant.Result, error) {
					here = x.Here()
					if tc.err != nil {
						return nil, tc.err
					}
					return &assistant.Result{}, nil
				}}}
			if err := r.Drain(context.Background()); err != nil {
				t.Fatal(err)
			}
			if early {
				t.Error("the watch was told before the store wrote the outcome")
			}
			if got := closed(changed); got != tc.signal {
				t.Errorf("signalled=%v, want %v", got, tc.signal)
			}
			if !here {
				t.Error("while this process generated the draft, its waiter was not told it is generated here")
			}
			if x.Here() {
				t.Error("after the job ended, the draft still reads as generated here")
			}
		})
	}
}
