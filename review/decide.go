package review

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
)

// This file holds the decisions of the review lifecycle. Each function takes
// the state the store loaded (under a lock), the command, the policy and the
// clock, and returns what changes: the new status, the decision, the record
// entry and the audit events to write, or a domain error. The store applies
// the result in one transaction and decides nothing itself; the JSON API and
// the web pages reach these functions only through the store, so a decision
// is the same wherever it is made.

// Transition returns nil when a draft may move from one status to another,
// or the ECONFLICT that says it cannot. The store writes a status only after
// this check, and guards its UPDATE with the status it read.
func Transition(from, to Status) error {
	if from.CanTransition(to) {
		return nil
	}
	return countersign.Errorf(countersign.ECONFLICT, "This draft cannot be %s: it is %s.", verb(to), from.Label())
}

func verb(to Status) string {
	switch to {
	case StatusApproved, StatusAwaitingCountersign:
		return "approved"
	case StatusRejected:
		return "rejected"
	case StatusSuperseded:
		return "superseded"
	}
	return "moved to " + to.Label()
}

// notWaiting is the ECONFLICT for deciding a draft in the wrong state.
func notWaiting(d *Draft) error {
	return countersign.Errorf(countersign.ECONFLICT, "This draft cannot be decided: it is %s.", d.Status.Label())
}

// DraftETag is the version of a draft as a reviewer saw it, for ETag and
// If-Match. It changes when the draft's status, reviewer or content
// changes, never when somebody merely opens it, so a supervisor looking at a
// draft does not make its reviewer's page stale.
func DraftETag(d *Draft) string {
	h := sha256.New()
	gen := ""
	if d.GeneratedAt != nil {
		gen = strconv.FormatInt(d.GeneratedAt.UnixNano(), 10)
	}
	fmt.Fprintf(h, "%s|%s|%s|%s|%d", d.ID, d.Status, d.ReviewerID, gen, d.Attempts)
	return `"` + hex.EncodeToString(h.Sum(nil))[:20] + `"`
}

// checkVersion returns EPRECONDITION when ifMatch names another version of
// d than the current one; an empty ifMatch checks nothing.
func checkVersion(d *Draft, ifMatch string) error {
	if ifMatch == "" || ifMatch == "*" {
		return nil
	}
	// Compared without the quotes, which clients often drop.
	current := strings.Trim(DraftETag(d), `"`)
	for _, tag := range strings.Split(ifMatch, ",") {
		if strings.Trim(strings.TrimPrefix(strings.TrimSpace(tag), "W/"), `"`) == current {
			return nil
		}
	}
	return countersign.Errorf(countersign.EPRECONDITION, "This draft has changed since you read it; open it again and review the current version.")
}

// errNotOpened is the ECONFLICT for a decision by someone who never opened
// the draft at this stage of its review.
var errNotOpened = countersign.Errorf(countersign.ECONFLICT, "Open the draft and read it before you sign it.")

// OpeningStage says at which stage of its review actor's opening of d
// counts: pending_review for whoever may decide it, awaiting_countersign for
// a supervisor of its team. ok is false when the opening counts for nothing
// (the draft is not waiting for this actor), and the store records none.
func OpeningStage(actor countersign.Actor, d *Draft) (stage Status, ok bool) {
	switch d.Status {
	case StatusPendingReview:
		return StatusPendingReview, CanDecide(actor, d)
	case StatusAwaitingCountersign:
		return StatusAwaitingCountersign, actor.Role == countersign.RoleSupervisor && actor.TeamID == d.TeamID
	}
	return "", false
}

// OpenedEvent is the audit event of actor's first opening of d at stage.
func OpenedEvent(actor countersign.Actor, d *Draft, stage Status) audit.Record {
	return audit.Record{Actor: actor, Action: audit.ActionDraftOpened, SubjectType: "draft", SubjectID: d.ID, CaseID: d.CaseID,
		Payload: audit.Payload{"kind": string(d.Kind), "stage": string(stage)}}
}

// ApprovalInput is what an approval is decided from.
type ApprovalInput struct {
	Actor countersign.Actor
	Draft *Draft
	// Check is the draft's vigilance check, nil when it has none.
	Check *VigilanceCheck
	// OpenedAt is when Actor first opened Draft for review; nil: never.
	OpenedAt *time.Time
	Approval Approval
	Policy   *Policy
	Now      time.Time
}

// ApprovalResult is what an approval changes.
type ApprovalResult struct {
	// Status is approved, or awaiting_countersign when the policy asks for
	// a second signature.
	Status   Status
	Decision *Decision
	// Entry is the record entry to sign, nil while a countersignature is awaited.
	Entry *Entry
	// Vigilance is the outcome of the draft's vigilance check to settle
	// (VigilanceCaught or VigilanceMissed), "" when it has none.
	Vigilance string
	Events    []audit.Record
}

// DecideApproval decides a reviewer's approval: who may approve (CanDecide),
// from which state, only after opening the draft and on the version they
// saw, what text is signed (Finalize), whether a supervisor must
// countersign, whether the sign-off was fast, and what the log records.
func DecideApproval(in ApprovalInput) (*ApprovalResult, error) {
	d, a, ap, p := in.Draft, in.Actor, in.Approval, in.Policy
	if !CanDecide(a, d) {
		return nil, countersign.Errorf(countersign.EFORBIDDEN, "This draft is not yours to decide.")
	}
	if d.Status != StatusPendingReview {
		return nil, notWaiting(d)
	}
	if err := checkVersion(d, ap.IfMatch); err != nil {
		return nil, err
	}
	if in.OpenedAt == nil {
		return nil, errNotOpened
	}
	fin, err := Finalize(d.Content, ap, in.Check)
	if err != nil {
		return nil, err
	}
	share, err := DecideSharing(ap, fin.Text)
	if err != nil {
		return nil, err
	}
	needs := p.NeedsCountersign(d)
	status := StatusApproved
	if needs {
		status = StatusAwaitingCountersign
	}
	if err := Transition(d.Status, status); err != nil {
		return nil, err
	}
	reviewMS := in.Now.Sub(*in.OpenedAt).Milliseconds()
	dec := &Decision{ID: countersign.NewID(countersign.PrefixDecision), DraftID: d.ID, Outcome: OutcomeApproved,
		DecidedBy: a.UserID, DecidedAt: in.Now, FinalText: fin.Text, Edited: fin.Edited, EditRatio: fin.EditRatio,
		Diff: fin.Diff, ReasonCode: ap.ReasonCode, Items: ap.Items, Statements: ap.Statements, CountersignRequired: needs,
		Comment: ap.Comment, ReviewMS: reviewMS, Fast: p.FastSignOff(fin.Drafted, reviewMS), Salt: audit.NewSalt(),
		Sharing: share.Sharing, WithheldReason: share.WithheldReason}
	res := &ApprovalResult{Status: status, Decision: dec, Vigilance: fin.Vigilance}
	if in.Check != nil {
		res.Events = append(res.Events, vigilanceEvent(a, d, fin.Vigilance, dec.ID))
	}
	var removed, confirmed, rejected int
	for _, s := range ap.Statements {
		if s.Action == StatementRemoved {
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
		"decision": dec.ID, "countersign_required": strconv.FormatBool(needs),
		"statements_confirmed": strconv.Itoa(confirmed), "statements_removed": strconv.Itoa(removed),
		"items_rejected": strconv.Itoa(rejected),
	}
	// Whether the client may read the entry, as codes (DecideSharing).
	payload["sharing"], payload["sharing_default"] = share.Sharing, strconv.FormatBool(share.Default)
	if share.WithheldReason != "" {
		payload["withheld_reason"] = share.WithheldReason
	}
	payload.Commit("final", dec.Salt, fin.Text)
	for _, code := range EditReasons {
		if n := countReason(ap, code); n > 0 {
			payload["reason."+code] = strconv.Itoa(n)
		}
	}
	res.Events = append(res.Events, audit.Record{Actor: a, Action: audit.ActionDraftApproved, SubjectType: "draft",
		SubjectID: d.ID, CaseID: d.CaseID, Payload: payload})
	if needs {
		return res, nil
	}
	e := &Entry{ID: countersign.NewID(countersign.PrefixEntry), CaseID: d.CaseID, DraftID: d.ID, Kind: string(d.Kind),
		Content: fin.Text, AIDrafted: true, Model: d.Model, PromptVersion: d.PromptVersion, DraftedAt: d.GeneratedAt,
		Edited: dec.Edited, SignedBy: a.UserID, SignedAt: in.Now, EditRatio: dec.EditRatio, Diff: dec.Diff, Salt: audit.NewSalt(),
		Sharing: dec.Sharing, WithheldReason: dec.WithheldReason}
	if dec.Edited {
		e.EditedBy = a.UserID
	}
	res.Entry = e
	res.Events = append(res.Events, audit.Record{Actor: a, Action: audit.ActionRecordSigned, SubjectType: "record_entry",
		SubjectID: e.ID, CaseID: d.CaseID, Payload: commitEntry(audit.Payload{"draft": d.ID}, e)})
	return res, nil
}

// countReason counts how often an approval gives a reason code.
func countReason(ap Approval, code string) int {
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

func vigilanceEvent(a countersign.Actor, d *Draft, outcome, decisionID string) audit.Record {
	return audit.Record{Actor: a, Action: audit.ActionDraftVigilance, SubjectType: "draft", SubjectID: d.ID, CaseID: d.CaseID,
		Payload: audit.Payload{"outcome": outcome, "kind": string(d.Kind), "decision": decisionID}}
}

// RejectionInput is what a rejection is decided from.
type RejectionInput struct {
	Actor countersign.Actor
	Draft *Draft
	Check *VigilanceCheck
	// First is the reviewer's approval of a draft awaiting countersignature.
	First *Decision
	// OpenedAt is when Actor first opened Draft at its current stage; nil: never.
	OpenedAt  *time.Time
	Rejection Rejection
	Now       time.Time
}

// RejectionResult is what a rejection changes: the draft's new status and
// either the reviewer's decision or the supervisor's refusal to countersign.
type RejectionResult struct {
	Status           Status
	Decision         *Decision
	Countersignature *Countersignature
	Vigilance        string
	Events           []audit.Record
}

// DecideRejection decides a reviewer's rejection of a pending draft, or a
// supervisor's refusal to countersign one awaiting countersignature. A
// rejected draft's vigilance check counts as caught.
func DecideRejection(in RejectionInput) (*RejectionResult, error) {
	d, a, rj := in.Draft, in.Actor, in.Rejection
	if err := ValidateRejection(rj); err != nil {
		return nil, err
	}
	if d.Status == StatusAwaitingCountersign {
		cs, err := decideCountersignature(a, d, in.First, OutcomeRejected, in.Now)
		if err != nil {
			return nil, err
		}
		cs.Reason, cs.Comment = rj.Reason, rj.Comment
		return &RejectionResult{Status: StatusRejected, Countersignature: cs, Events: []audit.Record{{Actor: a,
			Action: audit.ActionDraftRejected, SubjectType: "draft", SubjectID: d.ID, CaseID: d.CaseID, Payload: audit.Payload{
				"kind": string(d.Kind), "model": d.Model, "prompt_version": d.PromptVersion, "reason": rj.Reason,
				"stage": "countersign", "decision": in.First.ID, "first_signer": in.First.DecidedBy,
			}}}}, nil
	}
	if !CanDecide(a, d) {
		return nil, countersign.Errorf(countersign.EFORBIDDEN, "This draft is not yours to decide.")
	}
	if err := Transition(d.Status, StatusRejected); err != nil || d.Status != StatusPendingReview {
		return nil, notWaiting(d)
	}
	dec := &Decision{ID: countersign.NewID(countersign.PrefixDecision), DraftID: d.ID, Outcome: OutcomeRejected,
		DecidedBy: a.UserID, DecidedAt: in.Now, Reason: rj.Reason, Comment: rj.Comment}
	if in.OpenedAt != nil {
		dec.ReviewMS = in.Now.Sub(*in.OpenedAt).Milliseconds()
	}
	res := &RejectionResult{Status: StatusRejected, Decision: dec}
	if in.Check != nil {
		res.Vigilance = VigilanceCaught
		res.Events = append(res.Events, vigilanceEvent(a, d, VigilanceCaught, dec.ID))
	}
	res.Events = append(res.Events, audit.Record{Actor: a, Action: audit.ActionDraftRejected, SubjectType: "draft",
		SubjectID: d.ID, CaseID: d.CaseID, Payload: audit.Payload{
			"kind": string(d.Kind), "model": d.Model, "prompt_version": d.PromptVersion, "reason": rj.Reason,
			"review_ms": strconv.FormatInt(dec.ReviewMS, 10), "decision": dec.ID,
		}})
	return res, nil
}

// ValidateRejection checks a rejection's reason; the store calls it before
// it reads anything, so bad input is answered as such whoever sends it.
func ValidateRejection(rj Rejection) error {
	if !ValidRejectReason(rj.Reason) {
		return countersign.InvalidFields("The draft could not be rejected.", countersign.FieldError{Field: "reason",
			Message: "Choose a reason: " + strings.Join(RejectReasons, ", ") + "."})
	}
	return nil
}

// ValidateComment checks a reviewer's or supervisor's comment.
func ValidateComment(comment, failure string) error {
	if len(comment) > 2000 || !ValidText(comment) {
		return countersign.InvalidFields(failure, countersign.FieldError{Field: "comment",
			Message: "The comment must be text of at most 2000 bytes."})
	}
	return nil
}

// decideCountersignature checks that a may give a countersignature verdict
// on d, whose reviewer's approval is first.
func decideCountersignature(a countersign.Actor, d *Draft, first *Decision, outcome Outcome, now time.Time) (*Countersignature, error) {
	if a.Role != countersign.RoleSupervisor || a.TeamID != d.TeamID {
		return nil, CanCountersign(a, d, "")
	}
	if d.Status != StatusAwaitingCountersign || first == nil {
		return nil, countersign.Errorf(countersign.ECONFLICT, "This draft cannot be countersigned: it is %s.", d.Status.Label())
	}
	if err := CanCountersign(a, d, first.DecidedBy); err != nil {
		return nil, err
	}
	if err := Transition(d.Status, Status(outcome)); err != nil {
		return nil, err
	}
	return &Countersignature{Outcome: outcome, SignedBy: a.UserID, SignedAt: now}, nil
}

// CountersignInput is what a countersignature is decided from.
type CountersignInput struct {
	Actor countersign.Actor
	Draft *Draft
	First *Decision
	// OpenedAt is when Actor first opened Draft while it awaited their
	// countersignature; nil: never.
	OpenedAt *time.Time
	Comment  string
	IfMatch  string
	Now      time.Time
}

// CountersignResult is what a countersignature changes.
type CountersignResult struct {
	Countersignature *Countersignature
	Entry            *Entry
	Events           []audit.Record
}

// DecideCountersign decides a supervisor's countersignature: a supervisor
// of the team other than the first signer and the requester, who opened the
// draft after its approval, on the version they saw. The entry names both
// signers and carries the text the first signer approved.
func DecideCountersign(in CountersignInput) (*CountersignResult, error) {
	d, a, first := in.Draft, in.Actor, in.First
	if err := ValidateComment(in.Comment, "The draft could not be countersigned."); err != nil {
		return nil, err
	}
	cs, err := decideCountersignature(a, d, first, OutcomeApproved, in.Now)
	if err != nil {
		return nil, err
	}
	if err := checkVersion(d, in.IfMatch); err != nil {
		return nil, err
	}
	if in.OpenedAt == nil {
		return nil, errNotOpened
	}
	cs.Comment = in.Comment
	now := in.Now
	e := &Entry{ID: countersign.NewID(countersign.PrefixEntry), CaseID: d.CaseID, DraftID: d.ID, Kind: string(d.Kind),
		Content: first.FinalText, AIDrafted: true, Model: d.Model, PromptVersion: d.PromptVersion, DraftedAt: d.GeneratedAt,
		Edited: first.Edited, SignedBy: first.DecidedBy, SignedAt: first.DecidedAt, CountersignedBy: a.UserID,
		CountersignedAt: &now, EditRatio: first.EditRatio, Diff: first.Diff, Salt: audit.NewSalt(),
		Sharing: first.Sharing, WithheldReason: first.WithheldReason}
	if first.Edited {
		e.EditedBy = first.DecidedBy
	}
	return &CountersignResult{Countersignature: cs, Entry: e, Events: []audit.Record{
		{Actor: a, Action: audit.ActionDraftCountersign, SubjectType: "draft", SubjectID: d.ID, CaseID: d.CaseID, Payload: audit.Payload{
			"kind": string(d.Kind), "decision": first.ID, "first_signer": first.DecidedBy,
			"wait_ms": strconv.FormatInt(now.Sub(first.DecidedAt).Milliseconds(), 10),
		}},
		{Actor: a, Action: audit.ActionRecordSigned, SubjectType: "record_entry", SubjectID: e.ID, CaseID: d.CaseID, Payload: commitEntry(audit.Payload{
			"draft": d.ID, "signed_by": first.DecidedBy, "countersigned_by": a.UserID,
		}, e)},
	}}, nil
}

// Assignee is the worker a draft is to be reassigned to, as the store found them.
type Assignee struct {
	ID       string
	Role     countersign.Role
	TeamID   string
	Disabled bool
}

// ReassignResult is what a reassignment changes.
type ReassignResult struct {
	From   string
	Events []audit.Record
}

// CheckReassigner refuses whoever is not a supervisor: only supervisors
// reassign drafts. The store asks it before reading the draft, so that a
// worker does not learn whether a draft exists.
func CheckReassigner(a countersign.Actor) error {
	if a.Role != countersign.RoleSupervisor {
		return countersign.Errorf(countersign.EFORBIDDEN, "Only a supervisor can reassign a draft.")
	}
	return nil
}

// DecideReassign decides a supervisor's reassignment of a pending draft to
// another active worker of its team; to is nil when no such user exists.
// The new reviewer has not opened the draft, so their review clock starts
// when they do.
func DecideReassign(a countersign.Actor, d *Draft, to *Assignee) (*ReassignResult, error) {
	return decideReassign(a, d, to, "")
}

// decideReassign is the one rule of a change of a draft's reviewer. cause
// is "" for a supervisor's choice of one draft (DecideReassign), or
// CauseCaseAssigned for a draft that follows its case to the case's new
// holder (DecideCaseAssignedDrafts), which the caseload's own rule allowed
// (caseload.DecideAssign: a supervisor of the team, or the service): such
// a draft may also be queued, generating or failed (MovesWithCase), and
// goes to whoever now holds the case, a supervisor too, as a draft
// requested now would (DecideRequest: the case's worker reviews it).
func decideReassign(a countersign.Actor, d *Draft, to *Assignee, cause string) (*ReassignResult, error) {
	following := cause == CauseCaseAssigned
	if !following || a.Role != countersign.RoleSystem {
		if err := CheckReassigner(a); err != nil {
			return nil, err
		}
		if d.TeamID != a.TeamID {
			return nil, countersign.Errorf(countersign.EFORBIDDEN, "Only a supervisor of the draft's team can reassign it.")
		}
	}
	if following && !d.Status.MovesWithCase() || !following && d.Status != StatusPendingReview {
		return nil, countersign.Errorf(countersign.ECONFLICT, "This draft cannot be reassigned: it is %s.", d.Status.Label())
	}
	holder := to != nil && (to.Role == countersign.RoleWorker || following && to.Role == countersign.RoleSupervisor)
	if !holder || to.TeamID != d.TeamID || to.Disabled {
		return nil, countersign.InvalidFields("The draft could not be reassigned.", countersign.FieldError{Field: "worker_id",
			Message: "Choose an active worker of the draft's team."})
	}
	if to.ID == d.ReviewerID {
		return nil, countersign.InvalidFields("The draft could not be reassigned.", countersign.FieldError{Field: "worker_id",
			Message: "The draft is already assigned to this worker."})
	}
	p := audit.Payload{"from": d.ReviewerID, "to": to.ID, "kind": string(d.Kind)}
	if cause != "" {
		p["cause"] = cause
	}
	return &ReassignResult{From: d.ReviewerID, Events: []audit.Record{{Actor: a, Action: audit.ActionDraftReassigned,
		SubjectType: "draft", SubjectID: d.ID, CaseID: d.CaseID, Payload: p}}}, nil
}

// commitEntry adds to p the commitments to e's content and, for a
// correction, its reason, under e's salt, and returns p.
func commitEntry(p audit.Payload, e *Entry) audit.Payload {
	p.Commit("content", e.Salt, e.Content)
	// Whether the client may read the entry, so that a row changed to share
	// what its signer withheld is seen (CheckEntry).
	if e.Sharing != "" {
		p["sharing"] = e.Sharing
	}
	if e.WithheldReason != "" {
		p["withheld_reason"] = e.WithheldReason
	}
	if e.Supersedes != "" {
		p.Commit("reason", e.Salt, e.Correction)
	}
	return p
}

// RequestInput is what a draft request is decided from.
type RequestInput struct {
	Actor   countersign.Actor
	Case    *casefile.Case
	Request DraftRequest
	// Notes are the case's notes among Request.NoteIDs (all of the case's
	// notes when it names none), as the store found them.
	Notes  []*casefile.Note
	Policy *Policy
	Now    time.Time
}

// DecideRequest decides a draft request on a case the actor may write (the
// store has checked that and the client's consent under the case's lock):
// the kind must be allowed for the case type, the named notes must be notes
// of the case, the period must hold notes. It returns the queued draft,
// for the case's worker to review, and its event.
func DecideRequest(in RequestInput) (*Draft, *audit.Record, error) {
	c, req := in.Case, in.Request
	if err := casefile.CheckWrite(in.Actor, c); err != nil {
		return nil, nil, err
	}
	bad := func(field, msg string) error {
		return countersign.InvalidFields("The draft could not be requested.", countersign.FieldError{Field: field, Message: msg})
	}
	if !in.Policy.KindAllowed(c.CaseType, req.Kind) {
		return nil, nil, bad("kind", fmt.Sprintf("Your authority's policy does not allow AI drafts of kind %s for %s cases.", req.Kind, c.CaseType))
	}
	notes := in.Notes
	if len(req.NoteIDs) > 0 && len(notes) != len(distinct(req.NoteIDs)) {
		return nil, nil, bad("note_ids", "Some of these notes are not notes of this case.")
	}
	if req.Since != nil || req.Until != nil {
		notes = slices.DeleteFunc(slices.Clone(notes), func(n *casefile.Note) bool {
			return req.Since != nil && n.WrittenAt.Before(*req.Since) || req.Until != nil && !n.WrittenAt.Before(*req.Until)
		})
		if len(notes) == 0 {
			return nil, nil, bad("since", "No note of this case was written in that period.")
		}
	}
	if len(notes) == 0 {
		return nil, nil, bad("note_ids", "The case has no notes to draft from yet.")
	}
	ids := make([]string, len(notes))
	for i, n := range notes {
		ids[i] = n.ID
	}
	d := &Draft{ID: countersign.NewID(countersign.PrefixDraft), CaseID: c.ID, Kind: req.Kind, Status: StatusQueued,
		RequestedBy: in.Actor.UserID, ReviewerID: c.WorkerID, TeamID: c.TeamID, NoteIDs: ids, Language: req.Language,
		CreatedAt: in.Now, UpdatedAt: in.Now}
	return d, &audit.Record{Actor: in.Actor, Action: audit.ActionDraftRequested, SubjectType: "draft", SubjectID: d.ID,
		CaseID: c.ID, Payload: audit.Payload{"kind": string(req.Kind), "notes": strings.Join(ids, ","), "language": req.Language}}, nil
}

// distinct returns ids without repeats, in order.
func distinct(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
