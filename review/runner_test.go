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
