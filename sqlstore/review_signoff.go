package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/review"
)

// policy returns the sign-off policy in force.
func (db *DB) policy() *review.Policy {
	if db.Policy != nil {
		return db.Policy
	}
	return review.DefaultPolicy()
}

// rand returns a uniform number in [0, 1) from DB.Rand, or math/rand/v2.
func (db *DB) rand() float64 {
	if db.Rand != nil {
		return db.Rand()
	}
	return rand.Float64()
}

const decisionColumns = `id, draft_id, outcome, decided_by, final_text, edited, edit_ratio, reason, comment, review_ms, fast, decided_at,
	reason_code, diff, items, statements, countersign_required`

type decisionRow struct {
	ID                  string    `db:"id"`
	DraftID             string    `db:"draft_id"`
	Outcome             string    `db:"outcome"`
	DecidedBy           string    `db:"decided_by"`
	FinalText           string    `db:"final_text"`
	Edited              bool      `db:"edited"`
	EditRatio           float64   `db:"edit_ratio"`
	Reason              string    `db:"reason"`
	Comment             string    `db:"comment"`
	ReviewMS            int64     `db:"review_ms"`
	Fast                bool      `db:"fast"`
	DecidedAt           time.Time `db:"decided_at"`
	ReasonCode          string    `db:"reason_code"`
	Diff                string    `db:"diff"`
	Items               string    `db:"items"`
	Statements          string    `db:"statements"`
	CountersignRequired bool      `db:"countersign_required"`
}

func (r *decisionRow) toDomain() (*review.Decision, error) {
	d := &review.Decision{ID: r.ID, DraftID: r.DraftID, Outcome: review.Outcome(r.Outcome), DecidedBy: r.DecidedBy,
		FinalText: r.FinalText, Edited: r.Edited, EditRatio: r.EditRatio, Reason: r.Reason, Comment: r.Comment,
		ReviewMS: r.ReviewMS, Fast: r.Fast, DecidedAt: r.DecidedAt.UTC(), ReasonCode: r.ReasonCode,
		CountersignRequired: r.CountersignRequired}
	for _, f := range []struct {
		s   string
		dst any
	}{{r.Diff, &d.Diff}, {r.Items, &d.Items}, {r.Statements, &d.Statements}} {
		if err := json.Unmarshal([]byte(f.s), f.dst); err != nil {
			return nil, fmt.Errorf("decision %s: %w", r.ID, err)
		}
	}
	return d, nil
}

type countersignatureRow struct {
	Outcome  string    `db:"outcome"`
	SignedBy string    `db:"signed_by"`
	Reason   string    `db:"reason"`
	Comment  string    `db:"comment"`
	SignedAt time.Time `db:"signed_at"`
}

// findCountersignature returns the countersignature of a draft, or nil.
func (db *DB) findCountersignature(ctx context.Context, q queryer, draftID string) (*review.Countersignature, error) {
	var rows []countersignatureRow
	if err := q.SelectContext(ctx, &rows, q.Rebind(`
		SELECT outcome, signed_by, reason, comment, signed_at FROM countersignatures WHERE draft_id = ?`), draftID); err != nil {
		return nil, db.translate(fmt.Errorf("find countersignature of %s: %w", draftID, err))
	}
	if len(rows) == 0 {
		return nil, nil // a draft without a countersignature is not an error
	}
	r := rows[0]
	return &review.Countersignature{Outcome: review.Outcome(r.Outcome), SignedBy: r.SignedBy, Reason: r.Reason,
		Comment: r.Comment, SignedAt: r.SignedAt.UTC()}, nil
}

type vigilanceRow struct {
	StatementID string  `db:"statement_id"`
	Text        string  `db:"text"`
	Outcome     *string `db:"outcome"`
}

// findVigilance returns a draft's vigilance check and its outcome ("" while
// undecided), or a nil check when the draft has none.
func (db *DB) findVigilance(ctx context.Context, q queryer, draftID string) (*review.VigilanceCheck, string, error) {
	var rows []vigilanceRow
	if err := q.SelectContext(ctx, &rows, q.Rebind(`
		SELECT statement_id, text, outcome FROM vigilance_checks WHERE draft_id = ?`), draftID); err != nil {
		return nil, "", db.translate(fmt.Errorf("find vigilance check of %s: %w", draftID, err))
	}
	if len(rows) == 0 {
		return nil, "", nil
	}
	r := rows[0]
	outcome := ""
	if r.Outcome != nil {
		outcome = *r.Outcome
	}
	return &review.VigilanceCheck{DraftID: draftID, StatementID: r.StatementID, Text: r.Text}, outcome, nil
}

// settleVigilance records the outcome of a draft's undecided vigilance
// check, if it has one, with its audit event, and returns what to tell the
// reviewer.
func (db *DB) settleVigilance(ctx context.Context, tx *Tx, d *review.Draft, check *review.VigilanceCheck, outcome, decisionID string) (*review.VigilanceResult, error) {
	if check == nil {
		return nil, nil
	}
	a := actor(ctx)
	res, err := tx.ExecContext(ctx, tx.Rebind(`
		UPDATE vigilance_checks SET outcome = ?, decided_by = ?, decided_at = ?
		WHERE draft_id = ? AND outcome IS NULL`), outcome, a.UserID, tx.now, d.ID)
	if err != nil {
		return nil, fmt.Errorf("settle vigilance check: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, countersign.Errorf(countersign.ECONFLICT, "This draft has just been decided by someone else.")
	}
	if err := tx.record(ctx, a, audit.ActionDraftVigilance, "draft", d.ID, d.CaseID, audit.Payload{
		"outcome": outcome, "kind": string(d.Kind), "decision": decisionID,
	}); err != nil {
		return nil, err
	}
	return review.NewVigilanceResult(outcome == review.VigilanceMissed, check.Text), nil
}

// lockDraft locks a draft for a decision and checks that the actor may read
// its case. The caller checks its status and who may decide.
func (db *DB) lockDraft(ctx context.Context, tx *Tx, id string) (*review.Draft, error) {
	d, err := db.getDraft(ctx, tx, id, db.dialect.forUpdate())
	if err != nil {
		return nil, err
	}
	if err := db.checkDraftAccess(ctx, tx, d, true); err != nil {
		return nil, err
	}
	return d, nil
}

// checkDraftAccess checks that the actor may read (or, with write, decide
// on) the case of d. A worker a supervisor reassigned the draft to is its
// reviewer without being the case's worker: the draft, and signing it into
// the record, is open to them, the rest of the case is not.
func (db *DB) checkDraftAccess(ctx context.Context, q queryer, d *review.Draft, write bool) error {
	if a := actor(ctx); a.Role == countersign.RoleWorker && a.UserID == d.ReviewerID && a.TeamID == d.TeamID {
		return nil
	}
	_, err := db.findCase(ctx, q, d.CaseID, write)
	return err
}

// notWaiting is the ECONFLICT for deciding a draft in the wrong state; the
// message gives the current state.
func notWaiting(d *review.Draft) error {
	return countersign.Errorf(countersign.ECONFLICT, "This draft cannot be decided: it is %s.", d.Status.Label())
}

// lockPending locks a draft for its reviewer's decision and checks that the
// actor may decide it and that it is still pending.
func (db *DB) lockPending(ctx context.Context, tx *Tx, id string) (*review.Draft, error) {
	d, err := db.lockDraft(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if !review.CanDecide(actor(ctx), d) {
		return nil, countersign.Errorf(countersign.EFORBIDDEN, "This draft is not yours to decide.")
	}
	if d.Status != review.StatusPendingReview {
		return nil, notWaiting(d)
	}
	return d, nil
}

// decide moves a locked pending draft to status and stores the decision.
// The status guard in the UPDATE makes a decision exactly-once even where
// the SELECT took no lock.
func (db *DB) decide(ctx context.Context, tx *Tx, d *review.Draft, status review.Status, dec *review.Decision) error {
	res, err := tx.ExecContext(ctx, tx.Rebind(`
		UPDATE drafts SET status = ?, decided_at = ?, updated_at = ?
		WHERE id = ? AND status = 'pending_review'`), string(status), tx.now, tx.now, d.ID)
	if err != nil {
		return fmt.Errorf("decide draft: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return countersign.Errorf(countersign.ECONFLICT, "This draft has just been decided by someone else.")
	}
	dec.ID, dec.DraftID, dec.DecidedBy, dec.DecidedAt = countersign.NewID(countersign.PrefixDecision), d.ID, actor(ctx).UserID, tx.now
	if d.OpenedAt != nil {
		dec.ReviewMS = tx.now.Sub(*d.OpenedAt).Milliseconds()
	}
	diff, _ := json.Marshal(nonNilSlice(dec.Diff))
	items, _ := json.Marshal(nonNilSlice(dec.Items))
	statements, _ := json.Marshal(nonNilSlice(dec.Statements))
	if _, err := tx.ExecContext(ctx, tx.Rebind(`
		INSERT INTO decisions (`+decisionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		dec.ID, dec.DraftID, string(dec.Outcome), dec.DecidedBy, dec.FinalText, dec.Edited, dec.EditRatio, dec.Reason,
		dec.Comment, dec.ReviewMS, dec.Fast, dec.DecidedAt, dec.ReasonCode, string(diff), string(items), string(statements),
		dec.CountersignRequired); err != nil {
		if isConflict(db.translate(err)) {
			return countersign.Errorf(countersign.ECONFLICT, "This draft has just been decided by someone else.")
		}
		return fmt.Errorf("insert decision: %w", err)
	}
	d.Status, d.Decision, d.DecidedAt = status, dec, &dec.DecidedAt
	return nil
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// SignOffDraft approves a pending draft. Without a countersignature to wait
// for, it signs the final text into the case record; otherwise the draft
// waits for a supervisor in awaiting_countersign. The draft's vigilance
// check, if any, is settled here, and a missed one is stripped from the text.
func (db *DB) SignOffDraft(ctx context.Context, id string, ap review.Approval) (*review.SignOff, error) {
	a := actor(ctx)
	p := db.policy()
	out := &review.SignOff{}
	err := db.withTx(ctx, func(tx *Tx) error {
		d, err := db.lockPending(ctx, tx, id)
		if err != nil {
			return err
		}
		check, _, err := db.findVigilance(ctx, tx, d.ID)
		if err != nil {
			return err
		}
		fin, err := review.Finalize(d.Content, ap, check)
		if err != nil {
			return err
		}
		needs := p.NeedsCountersign(d)
		status := review.StatusApproved
		if needs {
			status = review.StatusAwaitingCountersign
		}
		dec := &review.Decision{Outcome: review.OutcomeApproved, FinalText: fin.Text, Edited: fin.Edited, EditRatio: fin.EditRatio,
			Diff: fin.Diff, ReasonCode: ap.ReasonCode, Items: ap.Items, Statements: ap.Statements, CountersignRequired: needs,
			Comment: ap.Comment}
		if d.OpenedAt != nil {
			dec.Fast = p.FastSignOff(fin.Drafted, tx.now.Sub(*d.OpenedAt).Milliseconds())
		} else {
			dec.Fast = p.FastSignOff(fin.Drafted, 0)
		}
		if err := db.decide(ctx, tx, d, status, dec); err != nil {
			return err
		}
		d.CountersignRequired = needs
		if out.Vigilance, err = db.settleVigilance(ctx, tx, d, check, fin.Vigilance, dec.ID); err != nil {
			return err
		}
		out.Draft = d
		var removed, confirmed, rejected int
		for _, s := range ap.Statements {
			if s.Action == review.StatementRemoved {
				removed++
			} else {
				confirmed++
			}
		}
		for _, it := range ap.Items {
			if !it.Accepted {
				rejected++
			}
		}
		payload := audit.Payload{
			"kind": string(d.Kind), "model": d.Model, "prompt_version": d.PromptVersion, "edited": strconv.FormatBool(dec.Edited),
			"edit_ratio": strconv.FormatFloat(dec.EditRatio, 'f', 4, 64), "review_ms": strconv.FormatInt(dec.ReviewMS, 10),
			"fast_sign_off": strconv.FormatBool(dec.Fast), "ungrounded": strconv.Itoa(d.Ungrounded),
			"final_sha256": sha256Hex(fin.Text), "decision": dec.ID, "countersign_required": strconv.FormatBool(needs),
			"statements_confirmed": strconv.Itoa(confirmed), "statements_removed": strconv.Itoa(removed),
			"items_rejected": strconv.Itoa(rejected),
		}
		for _, code := range reasonCodes(ap) {
			payload["reason."+code] = strconv.Itoa(countReason(ap, code))
		}
		if err := tx.record(ctx, a, audit.ActionDraftApproved, "draft", d.ID, d.CaseID, payload); err != nil {
			return err
		}
		if needs {
			return nil
		}
		e := &review.Entry{ID: countersign.NewID(countersign.PrefixEntry), CaseID: d.CaseID, DraftID: d.ID, Kind: string(d.Kind),
			Content: fin.Text, AIDrafted: true, Model: d.Model, PromptVersion: d.PromptVersion, DraftedAt: d.GeneratedAt,
			Edited: dec.Edited, SignedBy: a.UserID, SignedAt: tx.now, EditRatio: dec.EditRatio, Diff: dec.Diff}
		if dec.Edited {
			e.EditedBy = a.UserID
		}
		if err := insertEntry(ctx, tx, e); err != nil {
			return err
		}
		out.Entry = e
		return tx.record(ctx, a, audit.ActionRecordSigned, "record_entry", e.ID, d.CaseID, audit.Payload{
			"draft": d.ID, "content_sha256": sha256Hex(fin.Text),
		})
	})
	if err != nil {
		return nil, err
	}
	out.Draft.Vigilance = out.Vigilance
	if out.Entry != nil {
		out.Entry.Vigilance = out.Vigilance
	}
	return out, nil
}

// reasonCodes lists the distinct reason codes an approval gives.
func reasonCodes(ap review.Approval) []string {
	var codes []string
	for _, c := range review.EditReasons {
		if countReason(ap, c) > 0 {
			codes = append(codes, c)
		}
	}
	return codes
}

func countReason(ap review.Approval, code string) int {
	n := 0
	if ap.ReasonCode == code {
		n++
	}
	for _, s := range ap.Statements {
		if s.ReasonCode == code {
			n++
		}
	}
	for _, it := range ap.Items {
		if it.ReasonCode == code {
			n++
		}
	}
	return n
}

// ApproveDraft is SignOffDraft returning only the record entry, which is
// nil when the draft now awaits a countersignature.
func (db *DB) ApproveDraft(ctx context.Context, id string, ap review.Approval) (*review.Entry, error) {
	s, err := db.SignOffDraft(ctx, id, ap)
	if err != nil {
		return nil, err
	}
	return s.Entry, nil
}

// RejectDraft turns a pending draft down, or, by a supervisor who may
// countersign it, refuses a draft awaiting countersignature. A vigilance
// check in a rejected draft counts as caught.
func (db *DB) RejectDraft(ctx context.Context, id string, rj review.Rejection) (*review.Draft, error) {
	if !review.ValidRejectReason(rj.Reason) {
		return nil, countersign.InvalidFields("The draft could not be rejected.", countersign.FieldError{Field: "reason",
			Message: "Choose a reason: " + strings.Join(review.RejectReasons, ", ") + "."})
	}
	a := actor(ctx)
	var d *review.Draft
	err := db.withTx(ctx, func(tx *Tx) error {
		var err error
		if d, err = db.lockDraft(ctx, tx, id); err != nil {
			return err
		}
		if d.Status == review.StatusAwaitingCountersign {
			return db.refuseCountersign(ctx, tx, d, rj)
		}
		if !review.CanDecide(a, d) {
			return countersign.Errorf(countersign.EFORBIDDEN, "This draft is not yours to decide.")
		}
		if d.Status != review.StatusPendingReview {
			return notWaiting(d)
		}
		check, _, err := db.findVigilance(ctx, tx, d.ID)
		if err != nil {
			return err
		}
		dec := &review.Decision{Outcome: review.OutcomeRejected, Reason: rj.Reason, Comment: rj.Comment}
		if err := db.decide(ctx, tx, d, review.StatusRejected, dec); err != nil {
			return err
		}
		if d.Vigilance, err = db.settleVigilance(ctx, tx, d, check, review.VigilanceCaught, dec.ID); err != nil {
			return err
		}
		return tx.record(ctx, a, audit.ActionDraftRejected, "draft", d.ID, d.CaseID, audit.Payload{
			"kind": string(d.Kind), "model": d.Model, "prompt_version": d.PromptVersion, "reason": rj.Reason,
			"review_ms": strconv.FormatInt(dec.ReviewMS, 10), "decision": dec.ID,
		})
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// lockAwaiting checks that the actor may countersign the locked draft d and
// returns its first decision.
func (db *DB) lockAwaiting(ctx context.Context, tx *Tx, d *review.Draft) (*review.Decision, error) {
	a := actor(ctx)
	if a.Role != countersign.RoleSupervisor || a.TeamID != d.TeamID {
		return nil, review.CanCountersign(a, d, "")
	}
	if d.Status != review.StatusAwaitingCountersign {
		return nil, countersign.Errorf(countersign.ECONFLICT, "This draft cannot be countersigned: it is %s.", d.Status.Label())
	}
	var r decisionRow
	if err := tx.GetContext(ctx, &r, tx.Rebind(`SELECT `+decisionColumns+` FROM decisions WHERE draft_id = ?`), d.ID); err != nil {
		return nil, fmt.Errorf("find decision of %s: %w", d.ID, err)
	}
	dec, err := r.toDomain()
	if err != nil {
		return nil, err
	}
	if err := review.CanCountersign(a, d, dec.DecidedBy); err != nil {
		return nil, err
	}
	return dec, nil
}

// countersign stores the supervisor's verdict and moves the draft on.
func (db *DB) countersign(ctx context.Context, tx *Tx, d *review.Draft, outcome review.Outcome, reason, comment string) error {
	res, err := tx.ExecContext(ctx, tx.Rebind(`
		UPDATE drafts SET status = ?, updated_at = ?
		WHERE id = ? AND status = 'awaiting_countersign'`), string(outcome), tx.now, d.ID)
	if err != nil {
		return fmt.Errorf("countersign draft: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return countersign.Errorf(countersign.ECONFLICT, "This draft has just been countersigned by someone else.")
	}
	cs := &review.Countersignature{Outcome: outcome, SignedBy: actor(ctx).UserID, Reason: reason, Comment: comment, SignedAt: tx.now}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`
		INSERT INTO countersignatures (draft_id, outcome, signed_by, reason, comment, signed_at)
		VALUES (?, ?, ?, ?, ?, ?)`), d.ID, string(cs.Outcome), cs.SignedBy, cs.Reason, cs.Comment, cs.SignedAt); err != nil {
		if isConflict(db.translate(err)) {
			return countersign.Errorf(countersign.ECONFLICT, "This draft has just been countersigned by someone else.")
		}
		return fmt.Errorf("insert countersignature: %w", err)
	}
	d.Status, d.Countersignature = review.Status(outcome), cs
	return nil
}

// refuseCountersign rejects a draft awaiting countersignature.
func (db *DB) refuseCountersign(ctx context.Context, tx *Tx, d *review.Draft, rj review.Rejection) error {
	dec, err := db.lockAwaiting(ctx, tx, d)
	if err != nil {
		return err
	}
	if err := db.countersign(ctx, tx, d, review.OutcomeRejected, rj.Reason, rj.Comment); err != nil {
		return err
	}
	d.Decision = dec
	return tx.record(ctx, actor(ctx), audit.ActionDraftRejected, "draft", d.ID, d.CaseID, audit.Payload{
		"kind": string(d.Kind), "model": d.Model, "prompt_version": d.PromptVersion, "reason": rj.Reason,
		"stage": "countersign", "decision": dec.ID, "first_signer": dec.DecidedBy,
	})
}

// CountersignDraft signs a draft awaiting countersignature into the case
// record; the entry names both signers.
func (db *DB) CountersignDraft(ctx context.Context, id, comment string) (*review.Entry, error) {
	if len(comment) > 2000 || !review.ValidText(comment) {
		return nil, countersign.InvalidFields("The draft could not be countersigned.", countersign.FieldError{Field: "comment",
			Message: "The comment must be text of at most 2000 bytes."})
	}
	a := actor(ctx)
	var e *review.Entry
	err := db.withTx(ctx, func(tx *Tx) error {
		d, err := db.lockDraft(ctx, tx, id)
		if err != nil {
			return err
		}
		dec, err := db.lockAwaiting(ctx, tx, d)
		if err != nil {
			return err
		}
		if err := db.countersign(ctx, tx, d, review.OutcomeApproved, "", comment); err != nil {
			return err
		}
		now := tx.now
		e = &review.Entry{ID: countersign.NewID(countersign.PrefixEntry), CaseID: d.CaseID, DraftID: d.ID, Kind: string(d.Kind),
			Content: dec.FinalText, AIDrafted: true, Model: d.Model, PromptVersion: d.PromptVersion, DraftedAt: d.GeneratedAt,
			Edited: dec.Edited, SignedBy: dec.DecidedBy, SignedAt: dec.DecidedAt, CountersignedBy: a.UserID, CountersignedAt: &now,
			EditRatio: dec.EditRatio, Diff: dec.Diff}
		if dec.Edited {
			e.EditedBy = dec.DecidedBy
		}
		if err := insertEntry(ctx, tx, e); err != nil {
			return err
		}
		if err := tx.record(ctx, a, audit.ActionDraftCountersign, "draft", d.ID, d.CaseID, audit.Payload{
			"kind": string(d.Kind), "decision": dec.ID, "first_signer": dec.DecidedBy,
			"wait_ms": strconv.FormatInt(tx.now.Sub(dec.DecidedAt).Milliseconds(), 10),
		}); err != nil {
			return err
		}
		return tx.record(ctx, a, audit.ActionRecordSigned, "record_entry", e.ID, d.CaseID, audit.Payload{
			"draft": d.ID, "content_sha256": sha256Hex(e.Content), "signed_by": dec.DecidedBy, "countersigned_by": a.UserID,
		})
	})
	return e, err
}

// ReassignDraft gives a pending draft to another worker of its team. The
// review clock restarts: the new reviewer has not opened it yet.
func (db *DB) ReassignDraft(ctx context.Context, id, workerID string) (*review.Draft, error) {
	a := actor(ctx)
	if a.Role != countersign.RoleSupervisor {
		return nil, countersign.Errorf(countersign.EFORBIDDEN, "Only a supervisor can reassign a draft.")
	}
	var d *review.Draft
	err := db.withTx(ctx, func(tx *Tx) error {
		var err error
		if d, err = db.lockDraft(ctx, tx, id); err != nil {
			return err
		}
		if d.TeamID != a.TeamID {
			return countersign.Errorf(countersign.EFORBIDDEN, "Only a supervisor of the draft's team can reassign it.")
		}
		if d.Status != review.StatusPendingReview {
			return countersign.Errorf(countersign.ECONFLICT, "This draft cannot be reassigned: it is %s.", d.Status.Label())
		}
		var u struct {
			Role     string     `db:"role"`
			TeamID   *string    `db:"team_id"`
			Disabled *time.Time `db:"disabled_at"`
		}
		bad := countersign.InvalidFields("The draft could not be reassigned.", countersign.FieldError{Field: "worker_id",
			Message: "Choose an active worker of the draft's team."})
		if err := tx.GetContext(ctx, &u, tx.Rebind(`SELECT role, team_id, disabled_at FROM users WHERE id = ?`), workerID); err != nil {
			if countersign.ErrorCode(db.translate(err)) == countersign.ENOTFOUND {
				return bad
			}
			return fmt.Errorf("find worker: %w", err)
		}
		if u.Role != string(countersign.RoleWorker) || u.TeamID == nil || *u.TeamID != d.TeamID || u.Disabled != nil {
			return bad
		}
		if workerID == d.ReviewerID {
			return countersign.InvalidFields("The draft could not be reassigned.", countersign.FieldError{Field: "worker_id",
				Message: "The draft is already assigned to this worker."})
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`
			UPDATE drafts SET reviewer_id = ?, opened_at = NULL, updated_at = ?
			WHERE id = ? AND status = 'pending_review'`), workerID, tx.now, d.ID); err != nil {
			return fmt.Errorf("reassign draft: %w", err)
		}
		from := d.ReviewerID
		d.ReviewerID, d.OpenedAt, d.UpdatedAt = workerID, nil, tx.now
		d.CountersignRequired = db.policy().NeedsCountersign(d)
		return tx.record(ctx, a, audit.ActionDraftReassigned, "draft", d.ID, d.CaseID, audit.Payload{
			"from": from, "to": workerID, "kind": string(d.Kind),
		})
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}
