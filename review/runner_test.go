package review_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/mock"
	"github.com/countersign/countersign/review"
)

// oneJob returns a store that hands out a single job and records its outcome.
type outcome struct {
	mu        sync.Mutex
	completed bool
	reason    string
	retryAt   *time.Time
	failed    bool
}

func oneJob(o *outcome) *mock.JobStore {
	var once sync.Once
	return &mock.JobStore{
		ClaimJobFunc: func(ctx context.Context, owner string, lease time.Duration) (*review.Job, error) {
			var job *review.Job
			once.Do(func() { job = &review.Job{DraftID: "drf_1", Attempt: 1, Owner: owner, LeaseEnd: time.Now().Add(lease)} })
			if job == nil {
				return nil, countersign.Errorf(countersign.ENOTFOUND, "none")
			}
			return job, nil
		},
		CompleteJobFunc: func(ctx context.Context, job *review.Job, res *assistant.Result) error {
			o.mu.Lock()
			defer o.mu.Unlock()
			o.completed = true
			return nil
		},
		FailJobFunc: func(ctx context.Context, job *review.Job, reason string, retryAt *time.Time) error {
			o.mu.Lock()
			defer o.mu.Unlock()
			o.failed, o.reason, o.retryAt = true, reason, retryAt
			return ctx.Err()
		},
	}
}

func TestRunner(t *testing.T) {
	t.Parallel()

	t.Run("ShutdownLetsADraftInFlightFinishWithinTheGrace", func(t *testing.T) {
		t.Parallel()
		o := &outcome{}
		started, release := make(chan struct{}), make(chan struct{})
		r := &review.Runner{Store: oneJob(o), Workers: 1, Grace: time.Minute, Owner: "t",
			Drafter: &mock.Drafter{DraftFunc: func(ctx context.Context, req assistant.Request) (*assistant.Result, error) {
				close(started)
				<-release
				return &assistant.Result{}, ctx.Err()
			}}}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { r.Run(ctx); close(done) }()
		<-started
		cancel() // SIGTERM arrives while the draft is being generated
		close(release)
		<-done
		if !o.completed || o.failed {
			t.Fatalf("completed=%v failed=%v: the draft in flight did not finish", o.completed, o.failed)
		}
	})

	t.Run("ShutdownReleasesTheLeaseAfterTheGrace", func(t *testing.T) {
		t.Parallel()
		o := &outcome{}
		started := make(chan struct{})
		r := &review.Runner{Store: oneJob(o), Workers: 1, Grace: time.Millisecond, Owner: "t",
			Drafter: &mock.Drafter{DraftFunc: func(ctx context.Context, req assistant.Request) (*assistant.Result, error) {
				close(started)
				<-ctx.Done() // a model that does not answer
				return nil, ctx.Err()
			}}}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { r.Run(ctx); close(done) }()
		<-started
		cancel()
		<-done
		if o.completed || !o.failed || o.retryAt == nil || time.Until(*o.retryAt) > time.Second {
			t.Fatalf("completed=%v failed=%v retryAt=%v: the lease was not released for an immediate retry", o.completed, o.failed, o.retryAt)
		}
	})

	t.Run("OutputErrorsFailAtOnceAndModelErrorsAreRetried", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name  string
			err   error
			retry bool
		}{
			{"Output", &assistant.OutputError{Reason: "statement 2 has no citation"}, false},
			{"Refused", &assistant.ModelError{Op: "t", Reason: "bad credentials"}, false},
			{"Temporary", &assistant.ModelError{Op: "t", Reason: "overloaded", Temporary: true}, true},
			{"RetryAfter", &assistant.ModelError{Op: "t", Reason: "rate limited", RetryAfter: 30 * time.Second}, true},
			{"Timeout", context.DeadlineExceeded, true},
		} {
			o := &outcome{}
			r := &review.Runner{Store: oneJob(o), Owner: "t", Backoff: time.Second,
				Drafter: &mock.Drafter{DraftFunc: func(context.Context, assistant.Request) (*assistant.Result, error) { return nil, tc.err }}}
			start := time.Now()
			if err := r.Drain(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !o.failed || (o.retryAt != nil) != tc.retry || o.reason == "" {
				t.Errorf("%s: failed=%v retry=%v reason=%q", tc.name, o.failed, o.retryAt != nil, o.reason)
			}
			var me *assistant.ModelError
			// Measured from before the attempt, so that a slow machine
			// cannot make a correct retry time look early.
			if errors.As(tc.err, &me) && me.RetryAfter > 0 && o.retryAt != nil && o.retryAt.Sub(start) < me.RetryAfter {
				t.Errorf("%s: retried %v after the attempt began, before the endpoint's Retry-After", tc.name, o.retryAt.Sub(start))
			}
		}
	})
}

// TestRunnerHeartbeat runs a draft whose model call outlasts the lease
// several times over: the heartbeat keeps the lease, and a heartbeat that
// finds it lost stops the job without writing anything.
func TestRunnerHeartbeat(t *testing.T) {
	t.Parallel()

	t.Run("RenewsTheLeaseWhileTheModelRuns", func(t *testing.T) {
		t.Parallel()
		o := &outcome{}
		store := oneJob(o)
		renewed := make(chan time.Time, 16)
		store.RenewJobFunc = func(ctx context.Context, job *review.Job, lease time.Duration) error {
			if a, _ := countersign.ActorFromContext(ctx); a.UserID == "" {
				t.Error("a renewal without the service's actor")
			}
			job.LeaseEnd = time.Now().Add(lease)
			renewed <- job.LeaseEnd
			return nil
		}
		const lease = 60 * time.Millisecond
		var claimedEnd time.Time
		r := &review.Runner{Store: store, Owner: "t", Lease: lease, Timeout: 5 * time.Second,
			Drafter: &mock.Drafter{DraftFunc: func(ctx context.Context, req assistant.Request) (*assistant.Result, error) {
				// A model call that lasts until the lease has been renewed
				// past its original end three times over.
				for range 3 {
					select {
					case end := <-renewed:
						if !end.After(claimedEnd) {
							t.Errorf("a renewal to %v does not extend the lease ending %v", end, claimedEnd)
						}
						claimedEnd = end
					case <-ctx.Done():
						return nil, ctx.Err()
					}
				}
				return &assistant.Result{}, ctx.Err()
			}}}
		claim := store.ClaimJobFunc
		store.ClaimJobFunc = func(ctx context.Context, owner string, l time.Duration) (*review.Job, error) {
			job, err := claim(ctx, owner, l)
			if job != nil {
				claimedEnd = job.LeaseEnd
			}
			return job, err
		}
		if err := r.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !o.completed || o.failed {
			t.Fatalf("completed=%v failed=%v: a draft whose lease was renewed did not complete", o.completed, o.failed)
		}
	})

	t.Run("ALostLeaseStopsTheJobAndWritesNothing", func(t *testing.T) {
		t.Parallel()
		o := &outcome{}
		store := oneJob(o)
		store.RenewJobFunc = func(context.Context, *review.Job, time.Duration) error {
			return countersign.Errorf(countersign.ECONFLICT, "The draft's lease was lost to another worker.")
		}
		stopped := make(chan error, 1)
		r := &review.Runner{Store: store, Owner: "t", Lease: 30 * time.Millisecond, Timeout: 5 * time.Second,
			Drafter: &mock.Drafter{DraftFunc: func(ctx context.Context, req assistant.Request) (*assistant.Result, error) {
				<-ctx.Done() // a model that would not answer for minutes
				stopped <- ctx.Err()
				return nil, ctx.Err()
			}}}
		if err := r.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := <-stopped; !errors.Is(err, context.Canceled) {
			t.Fatalf("the model call ended with %v, not cancelled by the lost lease", err)
		}
		if o.completed || o.failed {
			t.Fatalf("completed=%v failed=%v: a worker that lost its lease wrote the draft's outcome", o.completed, o.failed)
		}
	})

	t.Run("AFailedRenewalIsTriedAgain", func(t *testing.T) {
		t.Parallel()
		o := &outcome{}
		store := oneJob(o)
		var mu sync.Mutex
		calls := 0
		twice := make(chan struct{})
		store.RenewJobFunc = func(context.Context, *review.Job, time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if calls == 2 {
				close(twice)
			}
			return errors.New("connection refused") // the database briefly away
		}
		r := &review.Runner{Store: store, Owner: "t", Lease: 30 * time.Millisecond, Timeout: 5 * time.Second,
			Drafter: &mock.Drafter{DraftFunc: func(ctx context.Context, req assistant.Request) (*assistant.Result, error) {
				select {
				case <-twice:
					return &assistant.Result{}, nil
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}}}
		if err := r.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !o.completed {
			t.Fatal("a renewal that failed for want of the database stopped the job")
		}
	})
}
