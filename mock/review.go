// Package mock holds function-field fakes of the domain interfaces, for
// tests of code that uses them without a database.
package mock

import (
	"context"
	"time"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/review"
)

var _ review.JobStore = (*JobStore)(nil)

// JobStore is a fake review.JobStore.
type JobStore struct {
	ClaimJobFunc    func(ctx context.Context, owner string, lease time.Duration) (*review.Job, error)
	CompleteJobFunc func(ctx context.Context, job *review.Job, res *assistant.Result) error
	FailJobFunc     func(ctx context.Context, job *review.Job, reason string, retryAt *time.Time) error
	// FailJobWithResultFunc defaults to FailJobFunc when nil.
	FailJobWithResultFunc func(ctx context.Context, job *review.Job, res *assistant.Result, reason string, retryAt *time.Time) error
	// RenewJobFunc, when nil, renews every lease.
	RenewJobFunc func(ctx context.Context, job *review.Job, lease time.Duration) error
}

// ClaimJob calls ClaimJobFunc.
func (s *JobStore) ClaimJob(ctx context.Context, owner string, lease time.Duration) (*review.Job, error) {
	return s.ClaimJobFunc(ctx, owner, lease)
}

// CompleteJob calls CompleteJobFunc.
func (s *JobStore) CompleteJob(ctx context.Context, job *review.Job, res *assistant.Result) error {
	return s.CompleteJobFunc(ctx, job, res)
}

// FailJob calls FailJobFunc.
func (s *JobStore) FailJob(ctx context.Context, job *review.Job, reason string, retryAt *time.Time) error {
	return s.FailJobFunc(ctx, job, reason, retryAt)
}

// FailJobWithResult calls FailJobWithResultFunc, or FailJobFunc when it is nil.
func (s *JobStore) FailJobWithResult(ctx context.Context, job *review.Job, res *assistant.Result, reason string, retryAt *time.Time) error {
	if s.FailJobWithResultFunc == nil {
		return s.FailJobFunc(ctx, job, reason, retryAt)
	}
	return s.FailJobWithResultFunc(ctx, job, res, reason, retryAt)
}

// RenewJob calls RenewJobFunc; when it is nil, it moves job.LeaseEnd to
// lease from now and succeeds.
func (s *JobStore) RenewJob(ctx context.Context, job *review.Job, lease time.Duration) error {
	if s.RenewJobFunc == nil {
		job.LeaseEnd = time.Now().Add(lease)
		return nil
	}
	return s.RenewJobFunc(ctx, job, lease)
}

// Drafter is a fake review.Drafter.
type Drafter struct {
	DraftFunc func(ctx context.Context, req assistant.Request) (*assistant.Result, error)
}

// Draft calls DraftFunc.
func (d *Drafter) Draft(ctx context.Context, req assistant.Request) (*assistant.Result, error) {
	return d.DraftFunc(ctx, req)
}
