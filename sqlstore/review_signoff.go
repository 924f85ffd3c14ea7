package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/internal/sealbox"
	"github.com/countersign/countersign/review"
)

// policy returns the sign-off policy in force.
func (db *conn) policy() *review.Policy {
	if db.Policy != nil {
		return db.Policy
	}
	return review.DefaultPolicy()
}

// rand returns a uniform number in [0, 1) from DB.Rand, or math/rand/v2.
func (db *conn) rand() float64 {
	if db.Rand != nil {
		return db.Rand()
	}
	return rand.Float64()
}

const decisionColumns = `id, draft_id, outcome, decided_by, final_text, edited, edit_ratio, reason, comment, review_ms, fast, decided_at,
	reason_code, diff, items, statements, countersign_required, sharing, withheld_reason`

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
	Sharing             string    `db:"sharing"`
	WithheldReason      string    `db:"withheld_reason"`
}

// toDomain returns the decision of a draft of caseID ("" when not known),
// its texts opened through o.
func (r *decisionRow) toDomain(ctx context.Context, o *openers, caseID string) (*review.Decision, error) {
	if err := o.openDecision(ctx, caseID, r.DraftID, decisionTexts{"final_text": &r.FinalText, "reason": &r.Reason, "comment": &r.Comment,
		"diff": &r.Diff, "items": &r.Items, "statements": &r.Statements}); err != nil {
		return nil, err
	}
	d := &review.Decision{ID: r.ID, DraftID: r.DraftID, Outcome: review.Outcome(r.Outcome), DecidedBy: r.DecidedBy,
		FinalText: r.FinalText, Edited: r.Edited, EditRatio: r.EditRatio, Reason: r.Reason, Comment: r.Comment,
		ReviewMS: r.ReviewMS, Fast: r.Fast, DecidedAt: r.DecidedAt.UTC(), ReasonCode: r.ReasonCode,
		CountersignRequired: r.CountersignRequired, Sharing: r.Sharing, WithheldReason: r.WithheldReason}
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
	CaseID   string    `db:"case_id"`
	Outcome  string    `db:"outcome"`
	SignedBy string    `db:"signed_by"`
	Reason   string    `db:"reason"`
	Comment  string    `db:"comment"`
	SignedAt time.Time `db:"signed_at"`
}

// findCountersignature returns the countersignature of a draft, or nil.
func (db *conn) findCountersignature(ctx context.Context, q queryer, draftID string) (*review.Countersignature, error) {
	var rows []countersignatureRow
	if err := q.SelectContext(ctx, &rows, q.Rebind(`
		SELECT d.case_id, c.outcome, c.signed_by, c.reason, c.comment, c.signed_at
		FROM countersignatures c JOIN drafts d ON d.id = c.draft_id WHERE c.draft_id = ?`), draftID); err != nil {
		return nil, db.translate(fmt.Errorf("find countersignature of %s: %w", draftID, err))
	}
	if len(rows) == 0 {
		return nil, nil // a draft without a countersignature is not an error
	}
	r := rows[0]
	o := db.openers(q)
	for col, v := range map[string]*string{"reason": &r.Reason, "comment": &r.Comment} {
		t, err := o.open(ctx, r.CaseID, countersignatureText(draftID, col), *v)
		if err != nil {
			return nil, err
		}
		*v = t
	}
	return &review.Countersignature{Outcome: review.Outcome(r.Outcome), SignedBy: r.SignedBy, Reason: r.Reason,
		Comment: r.Comment, SignedAt: r.SignedAt.UTC()}, nil
}

// countersignatureText is the place of a text of a draft's
// countersignature (its reason or comment), sealed with the case's key.
func countersignatureText(draftID, column string) sealbox.Where {
	return sealbox.Where{Table: "countersignatures", Column: column, Row: draftID}
}

// vigilanceText is the place of a draft's planted statement.
func vigilanceText(draftID string) sealbox.Where {
	return sealbox.Where{Table: "vigilance_checks", Column: "text", Row: draftID}
}

type vigilanceRow struct {
	StatementID string  `db:"statement_id"`
	Text        string  `db:"text"`
	Outcome     *string `db:"outcome"`
}

// findVigilance returns the vigilance check of draft d and its outcome (""
// while undecided), or a nil check when the draft has none; o opens its
// text (the opener that read the draft knows the case's key).
func (db *conn) findVigilance(ctx context.Context, q queryer, d *review.Draft, o *openers) (*review.VigilanceCheck, string, error) {
	var rows []vigilanceRow
	if err := q.SelectContext(ctx, &rows, q.Rebind(`
		SELECT statement_id, text, outcome FROM vigilance_checks WHERE draft_id = ?`), d.ID); err != nil {
		return nil, "", db.translate(fmt.Errorf("find vigilance check of %s: %w", d.ID, err))
	}
	if len(rows) == 0 {
		return nil, "", nil
	}
	r := rows[0]
	outcome := ""
	if r.Outcome != nil {
		outcome = *r.Outcome
	}
	text, err := o.open(ctx, d.CaseID, vigilanceText(d.ID), r.Text)
	if err != nil {
		return nil, "", err
	}
	return &review.VigilanceCheck{DraftID: d.ID, StatementID: r.StatementID, Text: text}, outcome, nil
}

// lockDraft locks a draft and its case for a decision (lockForDecision)
// and checks that the actor may decide on it in an open case. The caller
// checks its status and who may decide.
func (db *conn) lockDraft(ctx context.Context, tx *Tx, id string) (*review.Draft, error) {
	dd, err := db.lockForDecision(ctx, tx, id, "")
	if err != nil {
		return nil, err
	}
	return dd.draft, nil
}

// checkDraftAccess checks that the actor may read (or, with write, decide
// on) the case of d, or is its reviewer (review.IsReviewer). A decision
// in a write transaction also needs the case open (casefile.CheckOpen,
// under the case's write lock): a closed case takes no signed entry, by
// its reviewer no more than by anyone else.
func (db *conn) checkDraftAccess(ctx context.Context, q queryer, d *review.Draft, write bool) error {
	a := actor(ctx)
	if write {
		if review.IsReviewer(a, d) {
			if tx, ok := q.(*Tx); ok {
				return db.checkOpen(ctx, tx, d.CaseID)
			}
			return nil
		}
		_, err := db.findCase(ctx, q, d.CaseID, true)
		return err
	}
	// A read is review.CanReadDraft's, as the one-statement read predicts
	// it (mayReadDraft): the case is read only when the reviewer's rule does
	// not decide, and findCase refuses with casefile.CheckRead's sentence.
	ok, err := review.CanReadDraft(a, d, func() (casefile.ReadScope, error) {
		c, err := db.findCase(ctx, q, d.CaseID, false)
		if err != nil {
			return casefile.ReadScope{}, err
		}
		return casefile.ScopeOf(c), nil
	})
	if err == nil && !ok {
		// findCase allowed the case's read, so its scope allows it too.
		err = casefile.CheckRead(a, &casefile.Case{ID: d.CaseID})
	}
	return err
}

// statusWrite moves d to status after review.Transition allows it. The
// guard on the status it was read in makes every change exactly-once, even
// where the SELECT took no lock; raced names the change for the message.
// d takes the new status once the write is done.
func statusWrite(tx *Tx, d *review.Draft, to review.Status, decided bool, raced string) (write, error) {
	if err := review.Transition(d.Status, to); err != nil {
		return write{}, err
	}
	query, args := `UPDATE drafts SET status = ?, updated_at = ?`, []any{string(to), tx.now}
	if decided {
		query, args = query+`, decided_at = ?`, append(args, tx.now)
	}
	return write{query: query + ` WHERE id = ? AND status = ?`, args: append(args, d.ID, string(d.Status)), check: func(n int64) error {
		if n != 1 {
			return countersign.Errorf(countersign.ECONFLICT, "This draft has just been %s by someone else.", raced)
		}
		d.Status, d.UpdatedAt = to, tx.now
		if decided {
			d.DecidedAt = &tx.now
		}
		return nil
	}}, nil
}

// errDecidedMeanwhile and errCountersignedMeanwhile answer a decision
// that lost a race the draft's lock did not prevent (a unique key).
var (
	errDecidedMeanwhile       = countersign.Errorf(countersign.ECONFLICT, "This draft has just been decided by someone else.")
	errCountersignedMeanwhile = countersign.Errorf(countersign.ECONFLICT, "This draft has just been countersigned by someone else.")
)

// decisionWrite stores a reviewer's decision on dd's draft, its texts
// sealed with the case's key.
func decisionWrite(ctx context.Context, tx *Tx, dd *decidable, dec *review.Decision) (write, error) {
	diff, _ := json.Marshal(nonNilSlice(dec.Diff))
	items, _ := json.Marshal(nonNilSlice(dec.Items))
	statements, _ := json.Marshal(nonNilSlice(dec.Statements))
	k, err := dd.sealer(ctx, tx)
	if err != nil {
		return write{}, err
	}
	finalText, reason, comment, sealedDiff, sealedItems, sealedStatements := dec.FinalText, dec.Reason, dec.Comment, string(diff), string(items), string(statements)
	sealDecision(k, dec.DraftID, decisionTexts{"final_text": &finalText, "reason": &reason, "comment": &comment, "diff": &sealedDiff,
		"items": &sealedItems, "statements": &sealedStatements})
	return write{query: `INSERT INTO decisions (` + decisionColumns + `, salt)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args: []any{
		dec.ID, dec.DraftID, string(dec.Outcome), dec.DecidedBy, finalText, dec.Edited, dec.EditRatio, reason,
		comment, dec.ReviewMS, dec.Fast, dec.DecidedAt, dec.ReasonCode, sealedDiff, sealedItems, sealedStatements,
		dec.CountersignRequired, dec.Sharing, dec.WithheldReason, dec.Salt}}, nil
}

// findDecision returns the reviewer's decision of a draft.
func (db *conn) findDecision(ctx context.Context, q queryer, draftID string) (*review.Decision, error) {
	var r decisionRow
	if err := q.GetContext(ctx, &r, q.Rebind(`SELECT `+decisionColumns+` FROM decisions WHERE draft_id = ?`), draftID); err != nil {
		return nil, fmt.Errorf("find decision of %s: %w", draftID, db.translate(err))
	}
	return r.toDomain(ctx, db.openers(q), "")
}

// countersignatureWrite stores a supervisor's verdict on dd's draft.
func countersignatureWrite(ctx context.Context, tx *Tx, dd *decidable, cs *review.Countersignature) (write, error) {
	draftID := dd.draft.ID
	k, err := dd.sealer(ctx, tx)
	if err != nil {
		return write{}, err
	}
	return write{query: `INSERT INTO countersignatures (draft_id, outcome, signed_by, reason, comment, signed_at)
		VALUES (?, ?, ?, ?, ?, ?)`, args: []any{draftID, string(cs.Outcome), cs.SignedBy,
		k.Seal(countersignatureText(draftID, "reason"), cs.Reason), k.Seal(countersignatureText(draftID, "comment"), cs.Comment), cs.SignedAt}}, nil
}

// decisionWrites are the writes of a reviewer's decision on dd's draft:
// its move to status, the decision, and the outcome of its vigilance
// check when the decision settles one (vigilance, "" when not).
func decisionWrites(ctx context.Context, tx *Tx, dd *decidable, status review.Status, dec *review.Decision, vigilance string) ([]write, error) {
	st, err := statusWrite(tx, dd.draft, status, true, "decided")
	if err != nil {
		return nil, err
	}
	decision, err := decisionWrite(ctx, tx, dd, dec)
	if err != nil {
		return nil, err
	}
	ws := []write{st, decision}
	if vigilance != "" {
		ws = append(ws, vigilanceWrite(tx, dd.draft.ID, vigilance, dec.DecidedBy))
	}
	return ws, nil
}

// vigilanceWrite records the outcome of a draft's undecided vigilance check.
func vigilanceWrite(tx *Tx, draftID, outcome string, by string) write {
	return write{query: `UPDATE vigilance_checks SET outcome = ?, decided_by = ?, decided_at = ?
		WHERE draft_id = ? AND outcome IS NULL`, args: []any{outcome, by, tx.now, draftID}, check: func(n int64) error {
		if n != 1 {
			return errDecidedMeanwhile
		}
		return nil
	}}
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// SignOffDraft applies review.DecideApproval: the draft is signed into the
// case record, or waits for a supervisor in awaiting_countersign.
func (db *ReviewStore) SignOffDraft(ctx context.Context, id string, ap review.Approval) (*review.SignOff, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	out, err := db.signOffByStatement(ctx, a, id, ap)
	if !errors.Is(err, errFenceLost) {
		if err != nil {
			return nil, err
		}
		return withVigilance(out), nil
	}
	out = &review.SignOff{}
	err = db.withTx(ctx, func(tx *Tx) error {
		dd, err := db.lockForDecision(ctx, tx, id, review.StatusPendingReview)
		if err != nil {
			return err
		}
		d, check := dd.draft, dd.check
		res, err := review.DecideApproval(review.ApprovalInput{Actor: a, Draft: d, Check: check, OpenedAt: dd.openedAt,
			Approval: ap, Policy: db.policy(), Now: tx.now})
		if err != nil {
			return err
		}
		ws, err := decisionWrites(ctx, tx, dd, res.Status, res.Decision, res.Vigilance)
		if err != nil {
			return err
		}
		if res.Entry != nil {
			entry, err := entryWrite(ctx, tx, dd, res.Entry)
			if err != nil {
				return err
			}
			ws = append(ws, entry)
			// The agenda the signed suggestions plan is written first, so
			// its events come before the sign-off's, in the log's order.
			if err := db.agendaFromSignOff(ctx, tx, d, res.Decision); err != nil {
				return err
			}
		}
		events, err := tx.eventsWrite(res.Events)
		if err != nil {
			return err
		}
		if err := tx.writes(ctx, errDecidedMeanwhile, append(ws, events)...); err != nil {
			return err
		}
		d.Decision, d.CountersignRequired = res.Decision, res.Decision.CountersignRequired
		if res.Vigilance != "" {
			out.Vigilance = review.NewVigilanceResult(res.Vigilance == review.VigilanceMissed, check.Text)
		}
		out.Draft, out.Entry = d, res.Entry
		return nil
	})
	if err != nil {
		return nil, err
	}
	return withVigilance(out), nil
}

// signOffByStatement is SignOffDraft on PostgreSQL in two statements and
// no transaction: the draft and its case are read unlocked with their rows'
// versions (readForDecision), review.DecideApproval decides as it does in
// the transaction, and its writes are one statement fenced on those
// versions and on the case's key row read (fencedWrites, keyHeld), which
// locks the case, then the draft, as the transaction's read does.
// errFenceLost means nothing was written and the sign-off is to be decided
// in a transaction: the case, the draft or the case's key row changed
// since the read (the transaction then answers as the change requires), or
// this sign-off needs what only the transaction does (the SQLite dialect; a
// case without a key row yet, whose key the transaction creates; the
// agenda a signed suggestions draft plans, agendaFromSignOff).
//
// When the actor read or opened the draft moments before in this process,
// the read is what they read then (rememberedDecision, decision_memory.go)
// and the sign-off is the fenced statement alone; a fence lost there, or
// anything decided on the memory but the write, makes it read as above.
func (db *ReviewStore) signOffByStatement(ctx context.Context, a countersign.Actor, id string, ap review.Approval) (*review.SignOff, error) {
	if !db.dialect.writableCTE() {
		return nil, errFenceLost
	}
	// A test that hooks the read (AfterDecisionRead) is given the read.
	if _, hooked := afterDecisionRead.Load(id); !hooked {
		if r := db.rememberedDecision(a, id); r != nil {
			out, err := db.signOffRemembered(ctx, a, r, ap)
			if !errors.Is(err, errFenceLost) {
				return out, err
			}
		}
	}
	dd, err := db.readForDecision(ctx, db.r, id, review.StatusPendingReview, false)
	if err != nil {
		return nil, err
	}
	return db.signOffFenced(ctx, a, dd, ap, nil)
}

// signOffRemembered is signOffByStatement deciding on r, what a's read of
// the draft left (rememberedDecision): the same checks (decidableFrom) and
// decision, and the same fenced write, which holds the case's key row as
// the read's does (keyHeld). Any error before the write is errFenceLost:
// the memory may be stale where the write is fenced, so a refusal is
// decided on a read.
func (db *ReviewStore) signOffRemembered(ctx context.Context, a countersign.Actor, r *decideRow, ap review.Approval) (*review.SignOff, error) {
	var out *review.SignOff
	dd, err := db.decidableFrom(ctx, a, db.r, r)
	if err == nil && dd.key != nil {
		out, err = db.signOffFenced(ctx, a, dd, ap, r)
	} else {
		err = errFenceLost
	}
	if f, ok := afterRememberedDecision.Load(r.ID); ok {
		f.(func(bool))(err == nil)
	}
	return out, err
}

// signOffFenced decides a's approval of dd's draft (review.DecideApproval)
// and writes it in one statement fenced on the rows' versions dd holds and
// on the case's key row it read, still unshredded (keyHeld): a key shredded
// since the read writes nothing, whether or not the case's row changed
// with it. remembered, when not nil, is the row dd came from without a
// read (signOffRemembered): an error before the write is then
// errFenceLost.
func (db *ReviewStore) signOffFenced(ctx context.Context, a countersign.Actor, dd *decidable, ap review.Approval, remembered *decideRow) (*review.SignOff, error) {
	unwritten := func(err error) error {
		if remembered != nil {
			return errFenceLost
		}
		return err
	}
	d, check := dd.draft, dd.check
	if dd.keyID == "" || dd.caseVersion == "" || d.Kind == assistant.KindSuggestions {
		return nil, errFenceLost
	}
	if f, ok := afterDecisionRead.Load(d.ID); ok && remembered == nil {
		f.(func())()
	}
	tx := db.statementTx()
	res, err := review.DecideApproval(review.ApprovalInput{Actor: a, Draft: d, Check: check, OpenedAt: dd.openedAt,
		Approval: ap, Policy: db.policy(), Now: tx.now})
	if err != nil {
		return nil, unwritten(err)
	}
	ws, err := decisionWrites(ctx, tx, dd, res.Status, res.Decision, res.Vigilance)
	if err != nil {
		return nil, unwritten(err)
	}
	ws[0] = keyHeld(ws[0], d.CaseID, dd.keyID)
	if res.Entry != nil {
		entry, err := entryWrite(ctx, tx, dd, res.Entry)
		if err != nil {
			return nil, unwritten(err)
		}
		ws = append(ws, entry)
	}
	events, err := tx.eventsWrite(res.Events)
	if err != nil {
		return nil, unwritten(err)
	}
	f := fence{caseID: d.CaseID, caseVersion: dd.caseVersion, rowVersion: dd.draftVersion}
	if err := db.fencedWrites(ctx, &f, errDecidedMeanwhile, append(ws, events)...); err != nil {
		return nil, err
	}
	d.Decision, d.CountersignRequired = res.Decision, res.Decision.CountersignRequired
	out := &review.SignOff{Draft: d, Entry: res.Entry}
	if res.Vigilance != "" {
		out.Vigilance = review.NewVigilanceResult(res.Vigilance == review.VigilanceMissed, check.Text)
	}
	return out, nil
}

// afterRememberedDecision holds, for tests only (AfterRememberedDecision),
// what runs when a sign-off of a draft, by draft id, decided on what its
// actor's read left (signOffRemembered), told whether it wrote.
var afterRememberedDecision sync.Map

// afterDecisionRead holds, for tests only (AfterDecisionRead), what runs
// between a sign-off's unlocked read of a draft and its fenced write, by
// draft id.
var afterDecisionRead sync.Map

// withVigilance gives the sign-off's draft and entry its vigilance result.
func withVigilance(out *review.SignOff) *review.SignOff {
	out.Draft.Vigilance = out.Vigilance
	if out.Entry != nil {
		out.Entry.Vigilance = out.Vigilance
	}
	return out
}

// ApproveDraft is SignOffDraft returning only the record entry, which is
// nil when the draft now awaits a countersignature.
func (db *ReviewStore) ApproveDraft(ctx context.Context, id string, ap review.Approval) (*review.Entry, error) {
	s, err := db.SignOffDraft(ctx, id, ap)
	if err != nil {
		return nil, err
	}
	return s.Entry, nil
}

// RejectDraft applies review.DecideRejection: a reviewer turns a pending
// draft down, or a supervisor refuses to countersign one.
func (db *ReviewStore) RejectDraft(ctx context.Context, id string, rj review.Rejection) (*review.Draft, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := review.ValidateRejection(rj); err != nil {
		return nil, err
	}
	var d *review.Draft
	err = db.withTx(ctx, func(tx *Tx) error {
		// The opening read is the actor's at the draft's status: the
		// reviewer's while pending, the supervisor's once awaiting them.
		dd, err := db.lockForDecision(ctx, tx, id, "")
		if err != nil {
			return err
		}
		d = dd.draft
		in := review.RejectionInput{Actor: a, Draft: d, Rejection: rj, OpenedAt: dd.openedAt, Now: tx.now}
		if d.Status == review.StatusAwaitingCountersign {
			if in.First, err = db.findDecision(ctx, tx, d.ID); err != nil {
				return err
			}
		} else {
			in.Check = dd.check
		}
		res, err := review.DecideRejection(in)
		if err != nil {
			return err
		}
		events, err := tx.eventsWrite(res.Events)
		if err != nil {
			return err
		}
		if res.Countersignature != nil {
			status, err := statusWrite(tx, d, res.Status, false, "countersigned")
			if err != nil {
				return err
			}
			verdict, err := countersignatureWrite(ctx, tx, dd, res.Countersignature)
			if err != nil {
				return err
			}
			if err := tx.writes(ctx, errCountersignedMeanwhile, status, verdict, events); err != nil {
				return err
			}
			d.Decision, d.Countersignature = in.First, res.Countersignature
			return nil
		}
		ws, err := decisionWrites(ctx, tx, dd, res.Status, res.Decision, res.Vigilance)
		if err != nil {
			return err
		}
		if err := tx.writes(ctx, errDecidedMeanwhile, append(ws, events)...); err != nil {
			return err
		}
		d.Decision = res.Decision
		if res.Vigilance != "" {
			d.Vigilance = review.NewVigilanceResult(false, in.Check.Text)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// CountersignDraft applies review.DecideCountersign: a draft awaiting
// countersignature is signed into the case record with both signers.
func (db *ReviewStore) CountersignDraft(ctx context.Context, id string, cs review.Countersign) (*review.Entry, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := review.ValidateComment(cs.Comment, "The draft could not be countersigned."); err != nil {
		return nil, err
	}
	var e *review.Entry
	err = db.withTx(ctx, func(tx *Tx) error {
		dd, err := db.lockForDecision(ctx, tx, id, review.StatusAwaitingCountersign)
		if err != nil {
			return err
		}
		d := dd.draft
		in := review.CountersignInput{Actor: a, Draft: d, Comment: cs.Comment, IfMatch: cs.IfMatch, OpenedAt: dd.openedAt, Now: tx.now}
		if d.Status == review.StatusAwaitingCountersign {
			if in.First, err = db.findDecision(ctx, tx, d.ID); err != nil {
				return err
			}
		}
		res, err := review.DecideCountersign(in)
		if err != nil {
			return err
		}
		status, err := statusWrite(tx, d, review.StatusApproved, false, "countersigned")
		if err != nil {
			return err
		}
		verdict, err := countersignatureWrite(ctx, tx, dd, res.Countersignature)
		if err != nil {
			return err
		}
		entry, err := entryWrite(ctx, tx, dd, res.Entry)
		if err != nil {
			return err
		}
		events, err := tx.eventsWrite(res.Events)
		if err != nil {
			return err
		}
		// The agenda's events come before the countersignature's, as
		// they do at a sign-off.
		if err := db.agendaFromSignOff(ctx, tx, d, in.First); err != nil {
			return err
		}
		if err := tx.writes(ctx, errCountersignedMeanwhile, status, verdict, entry, events); err != nil {
			return err
		}
		e = res.Entry
		return nil
	})
	return e, err
}

// ReassignDraft applies review.DecideReassign: a pending draft goes to
// another worker of its team, whose review clock starts when they open it.
func (db *ReviewStore) ReassignDraft(ctx context.Context, id, workerID string) (*review.Draft, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := review.CheckReassigner(a); err != nil {
		return nil, err
	}
	var d *review.Draft
	err = db.withTx(ctx, func(tx *Tx) error {
		if d, err = db.lockDraft(ctx, tx, id); err != nil {
			return err
		}
		var u struct {
			ID       string     `db:"id"`
			Role     string     `db:"role"`
			TeamID   *string    `db:"team_id"`
			Disabled *time.Time `db:"disabled_at"`
		}
		var to *review.Assignee
		err := tx.GetContext(ctx, &u, tx.Rebind(`SELECT id, role, team_id, disabled_at FROM users WHERE id = ?`), workerID)
		switch {
		case err == nil:
			to = &review.Assignee{ID: u.ID, Role: countersign.Role(u.Role), Disabled: u.Disabled != nil}
			if u.TeamID != nil {
				to.TeamID = *u.TeamID
			}
		case countersign.ErrorCode(db.translate(err)) != countersign.ENOTFOUND:
			return fmt.Errorf("find worker: %w", err)
		}
		res, err := review.DecideReassign(a, d, to)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`
			UPDATE drafts SET reviewer_id = ?, opened_at = NULL, updated_at = ?
			WHERE id = ? AND status = ?`), workerID, tx.now, d.ID, string(review.StatusPendingReview)); err != nil {
			return fmt.Errorf("reassign draft: %w", err)
		}
		d.ReviewerID, d.OpenedAt, d.UpdatedAt = workerID, nil, tx.now
		d.CountersignRequired = db.policy().NeedsCountersign(d)
		return tx.apply(ctx, res.Events)
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}
