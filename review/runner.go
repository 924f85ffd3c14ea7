package review

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
)

// JobStore is the part of Store the drafting workers use.
type JobStore interface {
	ClaimJob(ctx context.Context, owner string, lease time.Duration) (*Job, error)
	CompleteJob(ctx context.Context, job *Job, res *assistant.Result) error
	FailJob(ctx context.Context, job *Job, reason string, retryAt *time.Time) error
	// FailJobWithResult retries the job at retryAt or marks it failed; res,
	// when the model was called, is the provenance of the last attempt.
	FailJobWithResult(ctx context.Context, job *Job, res *assistant.Result, reason string, retryAt *time.Time) error
	// RenewJob extends the job's lease to lease from now, if the job's
	// owner still holds it at the job's attempt, and moves job.LeaseEnd.
	// Returns ECONFLICT when the lease was lost: another worker took the
	// draft over, or it is no longer being generated.
	RenewJob(ctx context.Context, job *Job, lease time.Duration) error
}

// DraftClaimer is a JobStore that can also claim a draft by its id: the
// workers claim the draft a wake-up names that way (Runner.Wake), and
// search the queue only when it was taken or for a poll.
type DraftClaimer interface {
	// ClaimDraft leases the draft id to owner if it is waiting to be
	// generated, as ClaimJob would; ENOTFOUND when it is not.
	ClaimDraft(ctx context.Context, owner string, lease time.Duration, id string) (*Job, error)
}

// CompletionReporter is a JobStore whose completion also says the status
// it left the draft in: pending_review, or superseded when a newer
// request's draft over the same notes was generated first and the same
// transaction superseded this one (Superseding). The Runner tells its Watch
// that status; with a JobStore that cannot say, the waiters read it.
type CompletionReporter interface {
	CompleteJobStatus(ctx context.Context, job *Job, res *assistant.Result) (Status, error)
}

// Drafter produces a draft; *assistant.Drafter is the real one.
type Drafter interface {
	Draft(ctx context.Context, req assistant.Request) (*assistant.Result, error)
}

// DefaultLease is how long a drafting worker's claim holds without a
// heartbeat: a draft held by a process that died is taken over within it.
const DefaultLease = 30 * time.Second

// errLeaseLost cancels a job whose heartbeat found its lease taken.
var errLeaseLost = errors.New("the draft's lease was lost to another worker")

// Runner is a pool of drafting workers. Each claims a queued draft with a
// lease, asks the Drafter for it, and stores the result or the failure. A
// draft claimed by a process that died is claimed again once its lease ends.
type Runner struct {
	Store   JobStore
	Drafter Drafter
	Logger  *slog.Logger
	// Owner names this process in leases, e.g. host:pid.
	Owner string
	// Workers is how many drafts are generated at once.
	Workers int
	// Lease is how long a claim holds without a heartbeat: a draft held by a
	// process that died is taken over by another once it ends. While the
	// model call runs, a heartbeat renews it every Heartbeat, so a call may
	// take far longer than the lease.
	Lease time.Duration
	// Heartbeat is how often a claim is renewed; default a third of Lease,
	// so two heartbeats may fail before the lease ends.
	Heartbeat time.Duration
	// Timeout bounds one draft's generation (every model call and retry
	// within it); zero: no bound but the model client's own timeouts.
	Timeout time.Duration
	// MaxAttempts bounds the tries of a draft whose model call failed.
	MaxAttempts int
	// Backoff is the first retry delay; it doubles per attempt, with jitter.
	Backoff time.Duration
	// Poll is how often idle workers look for work queued by other replicas.
	Poll time.Duration
	// Grace is how long drafts in flight may finish after Run's context ends.
	Grace time.Duration
	// Watch, when set, is told of each draft this process finished
	// generating (completed or failed for good), once that has committed,
	// so a client waiting for it is answered at once.
	Watch *Watch

	// wake holds one token per draft queued here (Wake), the draft's id:
	// a worker takes one and claims once, that draft if it still waits.
	// poll holds at most one token, given every Poll
	// by a single ticker, at start, and when wake overflows: the worker
	// that takes it claims until none is left. So a claim is made only
	// for a draft known to be queued, or once per Poll per process, not
	// by every worker waking the next to find nothing (issue 18).
	wake chan string
	poll chan struct{}
	once sync.Once
}

// wakeBuffer bounds the wake-ups waiting for a worker; beyond it a poll
// (claim until none is left) stands for them.
const wakeBuffer = 1024

func (r *Runner) init() {
	r.once.Do(func() {
		r.wake = make(chan string, wakeBuffer)
		r.poll = make(chan struct{}, 1)
		if r.Workers <= 0 {
			r.Workers = 4
		}
		if r.Lease <= 0 {
			r.Lease = DefaultLease
		}
		if r.Heartbeat <= 0 || r.Heartbeat >= r.Lease {
			r.Heartbeat = r.Lease / 3
		}
		if r.MaxAttempts <= 0 {
			r.MaxAttempts = 3
		}
		if r.Backoff <= 0 {
			r.Backoff = 2 * time.Second
		}
		if r.Poll <= 0 {
			r.Poll = time.Second
		}
		if r.Grace <= 0 {
			r.Grace = 15 * time.Second
		}
		if r.Logger == nil {
			r.Logger = slog.Default()
		}
	})
}

// Wake tells the workers that the draft draftID was just queued (and
// committed): one worker claims once for it, that draft by its id when the
// store can (DraftClaimer), else, or when it was taken meanwhile, the
// oldest draft waiting, as for an empty draftID. Should more wake-ups be
// waiting than wakeBuffer, a poll stands for the rest, so none is lost.
func (r *Runner) Wake(draftID string) {
	r.init()
	// One waiting here for the draft (its requester, Prefer: wait) learns
	// its end from the Watch: the worker's claim, or Missed.
	r.Watch.Woken(draftID)
	select {
	case r.wake <- draftID:
	default:
		r.Watch.Missed(draftID)
		r.signalPoll()
	}
}

// signalPoll asks one idle worker to claim until no draft is ready. One
// pending poll is enough: it has not begun yet, so it finds whatever is
// queued before it is taken.
func (r *Runner) signalPoll() {
	select {
	case r.poll <- struct{}{}:
	default:
	}
}

// Run runs the workers until ctx ends. Then no new draft is claimed; drafts
// being generated get up to Grace to finish, after which they are released
// (queued again at once) so another process takes them up without waiting
// for the lease to expire.
func (r *Runner) Run(ctx context.Context) {
	r.init()
	hard, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.NewTimer(r.Grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-hard.Done():
		}
	})
	defer stop()
	var wg sync.WaitGroup
	// One ticker for the process, not one per worker: drafts queued by
	// other replicas, retries come due and expired leases are found by
	// one claim per Poll. The first poll is at once, for drafts left
	// queued or leased by a process that stopped.
	r.signalPoll()
	wg.Go(func() {
		t := time.NewTicker(r.Poll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				r.signalPoll()
			}
		}
	})
	for range r.Workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				select {
				case <-ctx.Done():
				case id := <-r.wake:
					// One draft was queued: one claim. A burst of
					// requests gives as many wake-ups, which idle workers
					// take in parallel, each claiming its own draft; a
					// worker that finds nothing (a poll took the draft
					// first) does not wake another.
					r.claimOne(ctx, hard, id)
				case <-r.poll:
					// Claim until none is left; while drafts are found,
					// hand the poll on so an idle worker claims beside
					// this one.
					for ctx.Err() == nil {
						if ok, _ := r.claimOne(ctx, hard, ""); !ok {
							break
						}
						r.signalPoll()
					}
				}
			}
		})
	}
	wg.Wait()
}

// Drain runs jobs one after another until none is ready; tests and the bench
// use it to wait for drafting deterministically.
func (r *Runner) Drain(ctx context.Context) error {
	r.init()
	for {
		ok, err := r.RunOne(ctx)
		if err != nil || !ok {
			return err
		}
	}
}

// RunOne claims and runs one job, reporting whether there was one.
func (r *Runner) RunOne(ctx context.Context) (bool, error) {
	r.init()
	return r.claimOne(ctx, ctx, "")
}

// claim claims the draft draftID when the store can (DraftClaimer) and the
// draft still waits, else the oldest draft waiting (ClaimJob).
func (r *Runner) claim(ctx context.Context, draftID string) (*Job, error) {
	if dc, ok := r.Store.(DraftClaimer); ok && draftID != "" {
		job, err := dc.ClaimDraft(ctx, r.Owner, r.Lease, draftID)
		if countersign.ErrorCode(err) != countersign.ENOTFOUND {
			return job, err
		}
	}
	return r.Store.ClaimJob(ctx, r.Owner, r.Lease)
}

// claimOne claims with ctx, the draft draftID if it is set and still
// waiting, else the oldest waiting, and generates with jobCtx, which
// outlives ctx by the shutdown grace period.
func (r *Runner) claimOne(ctx, jobCtx context.Context, draftID string) (bool, error) {
	// The drafting workers act as the service itself, set here explicitly:
	// the store refuses a context without an actor.
	ctx = countersign.NewContextWithActor(ctx, countersign.System)
	jobCtx = countersign.NewContextWithActor(jobCtx, countersign.System)
	job, err := r.claim(ctx, draftID)
	if draftID != "" && (err != nil || job.DraftID != draftID) {
		// The draft woken for was claimed elsewhere, or is gone: its
		// waiters here read its status again.
		r.Watch.Missed(draftID)
	}
	if countersign.ErrorCode(err) == countersign.ENOTFOUND {
		return false, nil
	} else if err != nil {
		if ctx.Err() == nil {
			r.Logger.Error("claim draft job", "op", "review.runner.claim", "err", err)
		}
		return false, err
	}
	// Those waiting for the draft in this process wait for its end here;
	// Done wakes them once the outcome, whatever it is, has committed.
	r.Watch.Generating(job.DraftID)
	var st Status
	defer func() { r.Watch.DoneAs(job.DraftID, st) }()
	st = r.run(jobCtx, job)
	return true, nil
}

// run generates job's draft and stores the outcome. It returns the status
// the stored outcome left the draft in when that is final, committed and
// known (pending_review, superseded or failed), else "": a completion
// by a JobStore that is not a CompletionReporter may have been superseded
// at once, so its status is left for the waiters to read.
func (r *Runner) run(ctx context.Context, job *Job) Status {
	ctx, span := traceJob(ctx, job)
	outcome := "failed"
	defer func() { endJob(span, outcome) }()
	jctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if r.Timeout > 0 {
		var stop context.CancelFunc
		jctx, stop = context.WithTimeout(jctx, r.Timeout)
		defer stop()
	}
	beat := r.heartbeat(jctx, job, cancel)
	res, err := r.Drafter.Draft(jctx, job.Request)
	cancel(nil)
	<-beat // no renewal races the write below
	if errors.Is(context.Cause(jctx), errLeaseLost) {
		// Another worker has the draft now; whatever this one writes
		// would be refused by the lease fence anyway.
		r.Logger.Warn("draft lease lost while drafting", "op", "review.runner.heartbeat", "draft", job.DraftID, "attempt", job.Attempt)
		outcome = "lease_lost"
		return ""
	}
	// Store the outcome with a fresh context: the job's deadline must not
	// cut off the write that records it.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer wcancel()
	if ctx.Err() != nil {
		// Shutting down: release the lease so the draft is generated
		// again at once, here or by another replica.
		now := time.Now()
		outcome = "released"
		if err := r.Store.FailJob(wctx, job, "The service restarted while drafting; the draft is generated again.", &now); err != nil {
			r.Logger.Error("release draft job", "op", "review.runner.release", "draft", job.DraftID, "err", err)
		}
		return ""
	}
	if err == nil {
		st, err := r.complete(wctx, job, res)
		if err != nil {
			r.Logger.Error("store generated draft", "op", "review.runner.complete", "draft", job.DraftID, "err", err)
			return ""
		}
		outcome = "completed"
		return st
	}
	reason := assistant.FailureReason(err)
	var retryAt *time.Time
	if d, ok := r.retryDelay(err, job.Attempt); ok {
		t := time.Now().Add(d)
		retryAt = &t
	}
	r.Logger.Warn("draft generation failed", "op", "review.runner.draft", "draft", job.DraftID, "attempt", job.Attempt,
		"retry", retryAt != nil, "err", err)
	if err := r.Store.FailJobWithResult(wctx, job, res, reason, retryAt); err != nil {
		r.Logger.Error("store draft failure", "op", "review.runner.fail", "draft", job.DraftID, "err", err)
		return ""
	}
	if retryAt != nil {
		return "" // queued again: its waiters read the status on their own
	}
	return StatusFailed
}

// complete stores the generated draft, and returns the status it left it
// in when the store says it (CompletionReporter), else "".
func (r *Runner) complete(ctx context.Context, job *Job, res *assistant.Result) (Status, error) {
	if cr, ok := r.Store.(CompletionReporter); ok {
		return cr.CompleteJobStatus(ctx, job, res)
	}
	return "", r.Store.CompleteJob(ctx, job, res)
}

// retryDelay says whether a failed job is tried again and after how long.
// An answer that broke the output schema was already retried once by the
// Drafter, and a refused request (bad credentials, unknown model) will not
// get better: both fail at once. Other model failures back off
// exponentially with jitter, or as long as the endpoint asked (Retry-After).
func (r *Runner) retryDelay(err error, attempt int) (time.Duration, bool) {
	var oe *assistant.OutputError
	var me *assistant.ModelError
	if errors.As(err, &oe) || attempt >= r.MaxAttempts || countersign.ErrorCode(err) == countersign.EINVALID {
		return 0, false
	}
	if errors.As(err, &me) && !me.Temporary && me.RetryAfter == 0 && !errors.Is(err, context.DeadlineExceeded) {
		return 0, false
	}
	d := r.Backoff << (attempt - 1)
	d += time.Duration(rand.Int64N(int64(d)/2 + 1))
	if me != nil && me.RetryAfter > d {
		d = me.RetryAfter
	}
	return d, true
}

// heartbeat renews job's lease every Heartbeat until ctx ends, and cancels
// the job with errLeaseLost when a renewal finds the lease taken. A renewal
// that fails otherwise (the database briefly away) is tried again at the
// next beat; should the lease run out meanwhile, the fence refuses this
// worker's result and the draft's new holder writes it. The returned
// channel is closed when the heartbeat has stopped.
func (r *Runner) heartbeat(ctx context.Context, job *Job, cancel context.CancelCauseFunc) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(r.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			// The renewal outlives the job's cancellation only as long
			// as one write may take.
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), r.Heartbeat)
			err := r.Store.RenewJob(rctx, job, r.Lease)
			rcancel()
			switch {
			case countersign.ErrorCode(err) == countersign.ECONFLICT:
				cancel(errLeaseLost)
				return
			case err != nil && ctx.Err() == nil:
				r.Logger.Warn("renew draft lease", "op", "review.runner.heartbeat", "draft", job.DraftID, "err", err)
			}
		}
	}()
	return done
}
