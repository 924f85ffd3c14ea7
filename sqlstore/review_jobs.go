package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/review"
)

// The drafting workers' side of the drafts: claiming a queued draft,
// renewing its lease, and completing or failing it.

// ClaimJob leases the next queued draft, or one whose lease expired, to owner.
// On PostgreSQL the claim is one statement with SKIP LOCKED and a fence on
// the draft's attempt (claimByStatement), so replicas claim side by side
// without ever claiming the same draft; SQLite's single writer gives the
// same guarantee to the transaction below.
func (db *ReviewStore) ClaimJob(ctx context.Context, owner string, lease time.Duration) (*review.Job, error) {
	return db.claim(ctx, owner, lease, "")
}

// ClaimDraft leases the draft id to owner if it is waiting to be generated
// (review.DraftClaimer), as ClaimJob would once it came first: a worker
// woken for the draft just queued claims it by its id, without searching
// the queue, and without racing the workers woken for the drafts queued
// beside it for the same oldest one. On PostgreSQL a draft whose request
// committed here is claimed with what that request left (claimByHint): one
// statement, which reads the case's parties too. ENOTFOUND when the draft
// is not waiting (another worker or replica took it, or it was never
// queued).
func (db *ReviewStore) ClaimDraft(ctx context.Context, owner string, lease time.Duration, id string) (*review.Job, error) {
	if id == "" {
		return nil, countersign.Errorf(countersign.EINVALID, "Name the draft to claim.")
	}
	return db.claim(ctx, owner, lease, id)
}

// claim is ClaimJob, or ClaimDraft when id is set.
func (db *ReviewStore) claim(ctx context.Context, owner string, lease time.Duration, id string) (*review.Job, error) {
	if db.dialect.writableCTE() {
		return db.claimByStatement(ctx, owner, lease, id)
	}
	var job *review.Job
	err := db.withTx(ctx, func(tx *Tx) error {
		var r claimRow
		query, args := `SELECT `+claimColumns+` FROM drafts WHERE `+claimable, []any{tx.now, tx.now}
		if id != "" {
			query, args = query+` AND id = ?`, append(args, id)
		}
		if err := tx.GetContext(ctx, &r, tx.Rebind(query+`
			ORDER BY run_after, id
			LIMIT 1`+db.dialect.skipLocked()), args...); err != nil {
			return notFound(db.translate(err), "No draft is waiting to be generated.")
		}
		until := tx.now.Add(lease)
		if _, err := tx.ExecContext(ctx, tx.Rebind(`
			UPDATE drafts SET status = `+stGenerating+`, attempts = attempts + 1, lease_owner = ?, lease_until = ?, updated_at = ?
			WHERE id = ?`), owner, until, tx.now, r.ID); err != nil {
			return fmt.Errorf("claim draft: %w", err)
		}
		var err error
		if job, err = db.claimedJob(ctx, tx, &r, owner, until); err != nil {
			return err
		}
		event, err := db.claimEvent(&r, owner, tx.now)
		if err != nil {
			return err
		}
		return tx.insertPending(ctx, event)
	})
	if err != nil {
		return nil, err
	}
	return job, nil
}

func toAssistantNotes(notes []*casefile.Note) []assistant.Note {
	out := make([]assistant.Note, len(notes))
	for i, n := range notes {
		out[i] = assistant.Note{ID: n.ID, Body: n.Body, WrittenAt: n.WrittenAt}
	}
	return out
}

func toAssistantParties(parties []*casefile.Party) []assistant.Party {
	out := make([]assistant.Party, len(parties))
	for i, p := range parties {
		out[i] = assistant.Party{ID: p.ID, Role: p.Role, FullName: p.FullName, DateOfBirth: p.DateOfBirth,
			Address: p.Address, Phone: p.Phone, Email: p.Email, NationalID: p.NationalID}
	}
	return out
}

// leaseHeld is the fence every job update carries: the draft must still be
// generating under this owner and attempt, or another worker has taken it over.
var leaseHeld = `id = ? AND status = ` + stGenerating + ` AND lease_owner = ? AND attempts = ?`

// RenewJob is the drafting worker's heartbeat: it extends the lease to
// lease from now while the worker still holds it, fenced like every job
// update by owner and attempt. It writes no audit event: the lease is the
// workers' bookkeeping, and the claim, the outcome and any takeover are
// each logged.
func (db *ReviewStore) RenewJob(ctx context.Context, job *review.Job, lease time.Duration) error {
	var until time.Time
	err := db.withTx(ctx, func(tx *Tx) error {
		until = tx.now.Add(lease)
		r, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE drafts SET lease_until = ? WHERE `+leaseHeld),
			until, job.DraftID, job.Owner, job.Attempt)
		if err != nil {
			return fmt.Errorf("renew draft lease: %w", err)
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return countersign.Errorf(countersign.ECONFLICT, "The draft's lease was lost to another worker.")
		}
		return nil
	})
	if err == nil {
		job.LeaseEnd = until
	}
	return err
}

var _ review.CompletionReporter = (*ReviewStore)(nil)

// CompleteJob stores a generated draft and puts it up for review; older
// pending drafts of the same kind over the same notes are superseded.
//
// When the policy switches vigilance checks on, a share of drafts get one
// known-false statement in their content; which one is kept only in
// vigilance_checks.
func (db *ReviewStore) CompleteJob(ctx context.Context, job *review.Job, res *assistant.Result) error {
	_, err := db.CompleteJobStatus(ctx, job, res)
	return err
}

// CompleteJobStatus is CompleteJob, and says the status the completion left
// the job's draft in (review.CompletionReporter): pending_review, or
// superseded when a newer request's draft over the same notes was
// generated first and the same transaction superseded this one.
func (db *ReviewStore) CompleteJobStatus(ctx context.Context, job *review.Job, res *assistant.Result) (review.Status, error) {
	stored := res.Content
	var check *review.VigilanceCheck
	if db.policy().VigilanceDue(db.rand()) {
		stored.Statements = slices.Clone(res.Content.Statements)
		check = review.InsertVigilance(&stored, job.Request.Notes, db.rand)
	}
	content, err := json.Marshal(stored)
	if err != nil {
		return "", fmt.Errorf("encode draft content: %w", err)
	}
	masked, _ := json.Marshal(res.Masked)
	params, _ := json.Marshal(res.Params)
	// The content is stored with a fresh salt, and its event commits to it
	// exactly as stored (vigilance statement included).
	c := &completion{content: string(content), salt: audit.NewSalt(), values: []any{
		res.Content.Language, res.Model, res.Provider, res.PromptVersion, res.DetectorVersion,
		string(params), res.RequestHash, res.ResponseHash, res.PromptTokens, res.CompletionTokens, res.Latency.Milliseconds(),
		res.Pseudonymised, string(masked), res.Ungrounded, review.FlagsRisk(&stored)}}
	p := audit.Payload{
		"model": res.Model, "provider": res.Provider, "prompt_version": res.PromptVersion, "detector_version": res.DetectorVersion,
		"request_sha256": res.RequestHash, "response_sha256": res.ResponseHash,
		"prompt_tokens": strconv.Itoa(res.PromptTokens), "completion_tokens": strconv.Itoa(res.CompletionTokens),
		"latency_ms": strconv.FormatInt(res.Latency.Milliseconds(), 10), "pseudonymised": strconv.FormatBool(res.Pseudonymised),
		"ungrounded": strconv.Itoa(res.Ungrounded), "attempt": strconv.Itoa(job.Attempt),
		"statements": strconv.Itoa(len(res.Content.Statements)), "items": strconv.Itoa(len(res.Content.Items)),
	}
	p.Commit("content", c.salt.(string), c.content)
	for k, v := range res.Params {
		p["param."+k] = v
	}
	for k, v := range res.Masked {
		p["masked."+k] = strconv.Itoa(v)
	}
	c.event = p
	if check == nil && db.dialect.writableCTE() {
		// The usual completion is one statement; it writes nothing when
		// a draft is to be superseded, the lease or the key is gone, or
		// the key is not known here, and the transaction below says why.
		if done, err := db.completeByStatement(ctx, job, c); err != nil {
			return "", err
		} else if done {
			return review.StatusPendingReview, nil
		}
	}
	sys := countersign.System
	status := review.StatusPendingReview
	err = db.withTx(ctx, func(tx *Tx) error {
		status = review.StatusPendingReview
		k, err := tx.sealer(ctx, job.CaseID)
		if err != nil {
			return err
		}
		r, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE drafts SET `+completeSet+` WHERE `+leaseHeld), c.args(k, job, tx.now)...)
		if err != nil {
			return fmt.Errorf("complete draft: %w", err)
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return countersign.Errorf(countersign.ECONFLICT, "The draft's lease was lost to another worker.")
		}
		if self, err := db.supersede(ctx, tx, job); err != nil {
			return err
		} else if self {
			status = review.StatusSuperseded
		}
		if check != nil {
			if _, err := tx.ExecContext(ctx, tx.Rebind(`
				INSERT INTO vigilance_checks (draft_id, statement_id, text, inserted_at)
				VALUES (?, ?, ?, ?)`), job.DraftID, check.StatementID, k.Seal(vigilanceText(job.DraftID), check.Text), tx.now); err != nil {
				return fmt.Errorf("insert vigilance check: %w", err)
			}
		}
		return tx.record(ctx, sys, audit.ActionDraftGenerated, "draft", job.DraftID, job.CaseID, c.event)
	})
	if err != nil {
		return "", err
	}
	return status, nil
}

// supersede applies review.Superseding to the job's draft, just
// generated, and the other pending drafts of its kind over the same notes:
// each one it supersedes is marked so, by the draft it leaves pending.
// It reports whether the job's own draft was one of them.
func (db *conn) supersede(ctx context.Context, tx *Tx, job *review.Job) (self bool, err error) {
	var rows []struct {
		ID        string    `db:"id"`
		CreatedAt time.Time `db:"created_at"`
		Done      bool      `db:"done"`
	}
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(`
		SELECT o.id, o.created_at, o.id = n.id AS done
		FROM drafts o JOIN drafts n ON n.id = ?
		WHERE o.case_id = n.case_id AND o.kind = n.kind AND o.note_ids = n.note_ids
		  AND (o.status = `+stPending+` OR o.id = n.id)`), job.DraftID); err != nil {
		return false, fmt.Errorf("find superseded drafts: %w", err)
	}
	var done *review.Draft
	var pending []*review.Draft
	for _, r := range rows {
		d := &review.Draft{ID: r.ID, CreatedAt: r.CreatedAt.UTC()}
		if r.Done {
			done = d
		} else {
			pending = append(pending, d)
		}
	}
	if done == nil {
		return false, fmt.Errorf("find superseded drafts: draft %s is not there", job.DraftID)
	}
	latest, superseded := review.Superseding(done, pending)
	for _, d := range superseded {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE drafts SET status = `+stSuperseded+`, updated_at = ? WHERE id = ? AND status = `+stPending), tx.now, d.ID); err != nil {
			return false, fmt.Errorf("supersede draft: %w", err)
		}
		if err := tx.record(ctx, countersign.System, audit.ActionDraftSuperseded, "draft", d.ID, job.CaseID, audit.Payload{"by": latest.ID}); err != nil {
			return false, err
		}
		self = self || d.ID == job.DraftID
	}
	return self, nil
}

// FailJob retries the job at retryAt, or marks the draft failed.
func (db *ReviewStore) FailJob(ctx context.Context, job *review.Job, reason string, retryAt *time.Time) error {
	return db.FailJobWithResult(ctx, job, nil, reason, retryAt)
}

// FailJobWithResult is FailJob for a job whose model was called: res (nil if
// it was not) is the provenance of the last attempt, which the draft and the
// audit event keep.
func (db *ReviewStore) FailJobWithResult(ctx context.Context, job *review.Job, res *assistant.Result, reason string, retryAt *time.Time) error {
	sys := countersign.System
	return db.withTx(ctx, func(tx *Tx) error {
		var (
			r   interface{ RowsAffected() (int64, error) }
			err error
		)
		if retryAt != nil {
			r, err = tx.ExecContext(ctx, tx.Rebind(`
				UPDATE drafts SET status = `+stQueued+`, run_after = ?, failure_reason = ?, lease_owner = '', lease_until = NULL, updated_at = ?
				WHERE `+leaseHeld), retryAt.UTC(), reason, tx.now, job.DraftID, job.Owner, job.Attempt)
		} else {
			r, err = tx.ExecContext(ctx, tx.Rebind(`
				UPDATE drafts SET status = `+stFailed+`, failure_reason = ?, lease_owner = '', lease_until = NULL, updated_at = ?
				WHERE `+leaseHeld), reason, tx.now, job.DraftID, job.Owner, job.Attempt)
		}
		if err != nil {
			return fmt.Errorf("fail draft: %w", err)
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return countersign.Errorf(countersign.ECONFLICT, "The draft's lease was lost to another worker.")
		}
		action := audit.ActionDraftFailed
		p := audit.Payload{"attempt": strconv.Itoa(job.Attempt), "reason_sha256": audit.Digest(reason)}
		if retryAt != nil {
			action = audit.ActionDraftRetry
			p["retry_at"] = retryAt.UTC().Format(time.RFC3339)
		}
		if err := keepProvenance(ctx, tx, job.DraftID, res, p); err != nil {
			return err
		}
		return tx.record(ctx, sys, action, "draft", job.DraftID, job.CaseID, p)
	})
}
