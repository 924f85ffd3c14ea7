package casefile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
)

// Retention and erasure (issue 19). A case is open until its supervisor
// closes it; closure starts the retention clock of the case's type
// (RetentionPolicy); when the period ends and no legal hold stands, the
// retention job erases the case. An erasure may also be asked for before
// then, by one admin, and confirmed by another (four eyes). Erasure keeps
// the rows' identifiers, times and the log's commitments, and destroys the
// texts, the salts that made the commitments openable, and the case key.
// The rules are here; sqlstore applies them, the API and the web call it.

// The statuses of a case. Append only: they are written into rows.
const (
	StatusOpen   = "open"
	StatusClosed = "closed"
	StatusErased = "erased"
)

// The actions of retention and erasure. Append only; do not rename: the
// names are part of every leaf ever hashed.
const (
	ActionCaseClosed       = "case.closed"
	ActionCaseReopened     = "case.reopened"
	ActionHoldSet          = "case.hold_set"
	ActionHoldLifted       = "case.hold_lifted"
	ActionErasureRequested = "case.erasure_requested"
	ActionCaseErased       = "case.erased"
	ActionPartyErased      = "party.erased"
)

// The rules under which something is erased: the end of the retention
// period (the scheduled job), or a confirmed request.
const (
	RuleRetention = "retention"
	RuleRequest   = "request"
)

// CloseReasons are the codes a case may be closed with; they enter the log.
var CloseReasons = []string{"goals_met", "client_withdrew", "client_moved", "transferred", "client_died",
	"no_further_action", "opened_in_error"}

// HoldReasons are the codes a legal hold is set or lifted with.
var HoldReasons = []string{"litigation", "complaint", "investigation", "inquiry", "regulator_request", "resolved"}

// ErasureReasons are the codes an erasure request is filed with.
var ErasureReasons = []string{"data_subject_request", "unlawful_processing", "consent_withdrawn", "court_order",
	"opened_in_error"}

// ErasedTables are the tables whose text an erasure overwrites, in the
// order the counts of a case.erased event list them. Append only. Letters
// are not among them: a letter is rendered from the record's entries and
// never stored.
var ErasedTables = []string{"notes", "parties", "consents", "drafts", "decisions", "record_entries",
	"record_corrections", "client_responses", "agenda_entries"}

// ID prefixes of retention's rows.
const (
	PrefixHold    = "hold"
	PrefixRequest = "erq"
	PrefixErasure = "era"
)

// CheckOpen returns nil when c takes new notes, drafts and other content,
// or the ECONFLICT that says why not: a closed case must be reopened by its
// supervisor first, an erased case takes nothing ever again. The store
// calls it wherever content is added (notes, drafts, parties, agenda
// entries, consent), so the JSON API and the web pages answer the same.
func CheckOpen(c *Case) error {
	switch c.Status {
	case StatusClosed:
		return countersign.Errorf(countersign.ECONFLICT, "This case is closed; its supervisor must reopen it before anything is added.")
	case StatusErased:
		return countersign.Errorf(countersign.ECONFLICT, "This case was erased under the retention rules; nothing can be added to it.")
	}
	return nil
}

// IsSupervisor reports whether a supervises c: a supervisor of its team.
func IsSupervisor(a countersign.Actor, c *Case) bool {
	return a.Role == countersign.RoleSupervisor && a.TeamID != "" && a.TeamID == c.TeamID
}

func reasonField(field, what string, codes []string, code string) error {
	if slices.Contains(codes, code) {
		return nil
	}
	return countersign.InvalidFields(what, countersign.FieldError{Field: field,
		Message: "Choose one of: " + strings.Join(codes, ", ") + "."})
}

// DecideClose decides closing c with reason: only the case's supervisor
// (or the service's own actors), only an open case. It sets c's status and
// closure time and returns the case.closed event.
func DecideClose(a countersign.Actor, c *Case, reason string, now time.Time) (*audit.Record, error) {
	if err := reasonField("reason_code", "The case could not be closed.", CloseReasons, reason); err != nil {
		return nil, err
	}
	if !IsSupervisor(a, c) && a.Role != countersign.RoleSystem {
		return nil, countersign.Errorf(countersign.EFORBIDDEN, "Only a supervisor of the case's team can close it.")
	}
	if err := CheckOpen(c); err != nil {
		if c.Status == StatusClosed {
			return nil, countersign.Errorf(countersign.ECONFLICT, "This case is already closed.")
		}
		return nil, err
	}
	t := now
	c.Status, c.ClosedAt, c.CloseReason = StatusClosed, &t, reason
	return &audit.Record{Actor: a, Action: ActionCaseClosed, SubjectType: "case", SubjectID: c.ID, CaseID: c.ID,
		Payload: audit.Payload{"reason": reason, "case_type": c.CaseType}}, nil
}

// DecideReopen decides reopening c: only its supervisor, only a closed
// case (an erased one never). Pending erasure requests lapse: the case is
// open again, so the store withdraws them in the same transaction.
func DecideReopen(a countersign.Actor, c *Case, now time.Time) (*audit.Record, error) {
	if !IsSupervisor(a, c) && a.Role != countersign.RoleSystem {
		return nil, countersign.Errorf(countersign.EFORBIDDEN, "Only a supervisor of the case's team can reopen it.")
	}
	switch c.Status {
	case StatusErased:
		return nil, countersign.Errorf(countersign.ECONFLICT, "This case was erased; it cannot be reopened.")
	case StatusClosed:
	default:
		return nil, countersign.Errorf(countersign.ECONFLICT, "This case is open; only a closed case can be reopened.")
	}
	c.Status, c.ClosedAt, c.CloseReason = StatusOpen, nil, ""
	return &audit.Record{Actor: a, Action: ActionCaseReopened, SubjectType: "case", SubjectID: c.ID, CaseID: c.ID,
		Payload: audit.Payload{}}, nil
}

// Hold is a legal hold on a case: while it stands, nothing of the case is
// erased, neither by the retention job nor on request.
type Hold struct {
	ID         string     `json:"id"`
	CaseID     string     `json:"case_id"`
	ReasonCode string     `json:"reason_code"`
	SetBy      string     `json:"set_by"`
	SetAt      time.Time  `json:"set_at"`
	LiftedBy   string     `json:"lifted_by,omitempty"`
	LiftedAt   *time.Time `json:"lifted_at,omitempty"`
	LiftReason string     `json:"lift_reason,omitempty"`
}

// Active reports whether h still stands.
func (h *Hold) Active() bool { return h.LiftedAt == nil }

// CanHold reports whether a may set or lift legal holds on c: its
// supervisor or an admin (who reads no content, but answers for the
// authority's legal duties).
func CanHold(a countersign.Actor, c *Case) bool {
	return IsSupervisor(a, c) || a.Role == countersign.RoleAdmin || a.Role == countersign.RoleSystem
}

// DecideHold decides setting a legal hold on c with reason. An erased
// case takes no hold: there is nothing left to keep.
func DecideHold(a countersign.Actor, c *Case, reason string, now time.Time) (*Hold, *audit.Record, error) {
	if err := reasonField("reason_code", "The legal hold could not be set.", HoldReasons, reason); err != nil {
		return nil, nil, err
	}
	if !CanHold(a, c) {
		return nil, nil, countersign.Errorf(countersign.EFORBIDDEN, "Only a supervisor of the case's team or an admin can set a legal hold.")
	}
	if c.Status == StatusErased {
		return nil, nil, countersign.Errorf(countersign.ECONFLICT, "This case was erased; there is nothing left to hold.")
	}
	h := &Hold{ID: countersign.NewID(PrefixHold), CaseID: c.ID, ReasonCode: reason, SetBy: a.UserID, SetAt: now}
	return h, &audit.Record{Actor: a, Action: ActionHoldSet, SubjectType: "hold", SubjectID: h.ID, CaseID: c.ID,
		Payload: audit.Payload{"reason": reason}}, nil
}

// DecideLiftHold decides lifting h (a hold of c) with reason.
func DecideLiftHold(a countersign.Actor, c *Case, h *Hold, reason string, now time.Time) (*audit.Record, error) {
	if err := reasonField("reason_code", "The legal hold could not be lifted.", HoldReasons, reason); err != nil {
		return nil, err
	}
	if !CanHold(a, c) {
		return nil, countersign.Errorf(countersign.EFORBIDDEN, "Only a supervisor of the case's team or an admin can lift a legal hold.")
	}
	if !h.Active() {
		return nil, countersign.Errorf(countersign.ECONFLICT, "This legal hold was already lifted.")
	}
	t := now
	h.LiftedBy, h.LiftedAt, h.LiftReason = a.UserID, &t, reason
	return &audit.Record{Actor: a, Action: ActionHoldLifted, SubjectType: "hold", SubjectID: h.ID, CaseID: c.ID,
		Payload: audit.Payload{"reason": reason}}, nil
}

// activeHold returns the first standing hold of holds, or nil.
func activeHold(holds []*Hold) *Hold {
	for _, h := range holds {
		if h.Active() {
			return h
		}
	}
	return nil
}

// The statuses of an erasure request.
const (
	RequestPending   = "pending"
	RequestDone      = "done"
	RequestWithdrawn = "withdrawn"
)

// ErasureRequest asks for the erasure of a case, or of one party's
// personal data in it (PartyID set), before the retention period ends. One
// admin files it, a different admin confirms it (four eyes); confirming
// erases.
type ErasureRequest struct {
	ID          string     `json:"id"`
	CaseID      string     `json:"case_id"`
	PartyID     string     `json:"party_id,omitempty"`
	ReasonCode  string     `json:"reason_code"`
	Status      string     `json:"status"`
	RequestedBy string     `json:"requested_by"`
	RequestedAt time.Time  `json:"requested_at"`
	ConfirmedBy string     `json:"confirmed_by,omitempty"`
	ConfirmedAt *time.Time `json:"confirmed_at,omitempty"`
}

// Erasure is what one erasure did: a whole case (PartyID empty) or one
// party's personal data. Counts gives the rows overwritten by table
// (ErasedTables); it is also what the case.erased event records.
type Erasure struct {
	ID            string         `json:"id"`
	CaseID        string         `json:"case_id"`
	PartyID       string         `json:"party_id,omitempty"`
	CaseType      string         `json:"case_type"`
	TeamID        string         `json:"team_id"`
	Rule          string         `json:"rule"`
	ReasonCode    string         `json:"reason_code"`
	PolicyVersion string         `json:"policy_version"`
	RequestID     string         `json:"request_id,omitempty"`
	ErasedAt      time.Time      `json:"erased_at"`
	Counts        map[string]int `json:"counts"`
	// Keys is the number of case keys destroyed (0 before per-case keys).
	Keys int `json:"keys"`
}

// Tombstone is what remains visible of an erased case: its reference,
// type and dates, and the rule it was erased under. No content, no names.
type Tombstone struct {
	CaseID        string     `json:"case_id"`
	Reference     string     `json:"reference"`
	CaseType      string     `json:"case_type"`
	TeamID        string     `json:"team_id"`
	CreatedAt     time.Time  `json:"created_at"`
	ClosedAt      *time.Time `json:"closed_at,omitempty"`
	ErasedAt      time.Time  `json:"erased_at"`
	Rule          string     `json:"rule"`
	ReasonCode    string     `json:"reason_code"`
	PolicyVersion string     `json:"policy_version"`
}

// CheckRetentionView returns nil when a may see the retention facts of c
// (its state, holds, erasure requests and erasures; never content):
// whoever may read the case, admins, the ethics board and the service.
func CheckRetentionView(a countersign.Actor, c *Case) error {
	switch a.Role {
	case countersign.RoleAdmin, countersign.RoleEthics, countersign.RoleSystem:
		return nil
	}
	return CheckRead(a, c)
}

// CheckRetentionFigures returns nil when a may see the figures of
// erasures and holds per month (no case, no content): the ethics board,
// admins and the service.
func CheckRetentionFigures(a countersign.Actor) error {
	switch a.Role {
	case countersign.RoleEthics, countersign.RoleAdmin, countersign.RoleSystem:
		return nil
	}
	return countersign.Errorf(countersign.EFORBIDDEN, "Only the ethics board and admins see the retention figures.")
}

// CheckRetentionPlan returns nil when a may see the retention plan:
// admins and the service.
func CheckRetentionPlan(a countersign.Actor) error {
	if a.Role != countersign.RoleAdmin && a.Role != countersign.RoleSystem {
		return countersign.Errorf(countersign.EFORBIDDEN, "Only admins see the retention plan.")
	}
	return nil
}

// CheckRetentionRun returns nil when a may run the retention job now:
// admins and the service.
func CheckRetentionRun(a countersign.Actor) error {
	if a.Role != countersign.RoleSystem && a.Role != countersign.RoleAdmin {
		return countersign.Errorf(countersign.EFORBIDDEN, "Only admins and the service run the retention job.")
	}
	return nil
}

// CheckErasureList returns nil when a may list the erasures f asks for: a
// client only those of a party of their own file (whose ownership the
// caller checks), staff other than admins and the board only those of a
// case they may see (CheckRetentionView, checked by the caller with the
// case), admins, the board and the service any.
func CheckErasureList(a countersign.Actor, f ErasureFilter) error {
	switch a.Role {
	case countersign.RoleClient:
		if f.PartyID == nil {
			return countersign.Errorf(countersign.EFORBIDDEN, "Only your own file's erasures can be listed.")
		}
	case countersign.RoleAdmin, countersign.RoleEthics, countersign.RoleSystem:
	default:
		if f.CaseID == nil {
			return countersign.Errorf(countersign.EFORBIDDEN, "Name the case whose erasures you want to see.")
		}
	}
	return nil
}

// CheckErasureAdmin returns nil when a may file or confirm erasure
// requests: admins only.
func CheckErasureAdmin(a countersign.Actor) error {
	if a.Role != countersign.RoleAdmin {
		return countersign.Errorf(countersign.EFORBIDDEN, "Only an admin can ask for or confirm an erasure.")
	}
	return nil
}

// CheckErasable returns nil when c (or party p of c, when p is not nil)
// may be erased on request at now under policy p, or the ECONFLICT that
// says why not: a standing legal hold, a case that is not closed (for a
// whole case), an erased case, or the policy's minimum retention.
func CheckErasable(c *Case, party *Party, holds []*Hold, p RetentionPolicy, now time.Time) error {
	if c.Status == StatusErased {
		return countersign.Errorf(countersign.ECONFLICT, "This case was already erased.")
	}
	if party != nil && party.ErasedAt != nil {
		return countersign.Errorf(countersign.ECONFLICT, "This person's details were already erased.")
	}
	if activeHold(holds) != nil {
		return countersign.Errorf(countersign.ECONFLICT, "This case is under a legal hold; nothing of it can be erased until the hold is lifted.")
	}
	if party == nil && c.Status != StatusClosed {
		return countersign.Errorf(countersign.ECONFLICT, "This case is still open; its supervisor must close it before it can be erased.")
	}
	if min, ok := p.Minimum[c.CaseType]; ok {
		if c.ClosedAt == nil {
			return countersign.Errorf(countersign.ECONFLICT, "The retention policy keeps %s cases at least %s after closure; this case is still open.",
				c.CaseType, min.Words())
		}
		if until := min.After(*c.ClosedAt); now.Before(until) {
			return countersign.Errorf(countersign.ECONFLICT, "The retention policy keeps %s cases at least %s after closure; this one can be erased from %s.",
				c.CaseType, min.Words(), until.Format("2 January 2006"))
		}
	}
	return nil
}

// DecideErasureRequest decides filing an erasure request for c, or for
// party (not nil) of c: an admin, a listed reason, and an erasable case
// (CheckErasable), so that a request that could never be confirmed is
// refused at once.
func DecideErasureRequest(a countersign.Actor, c *Case, party *Party, holds []*Hold, p RetentionPolicy, reason string, now time.Time) (*ErasureRequest, *audit.Record, error) {
	if err := reasonField("reason_code", "The erasure request could not be filed.", ErasureReasons, reason); err != nil {
		return nil, nil, err
	}
	if err := CheckErasureAdmin(a); err != nil {
		return nil, nil, err
	}
	if err := CheckErasable(c, party, holds, p, now); err != nil {
		return nil, nil, err
	}
	r := &ErasureRequest{ID: countersign.NewID(PrefixRequest), CaseID: c.ID, ReasonCode: reason, Status: RequestPending,
		RequestedBy: a.UserID, RequestedAt: now}
	payload := audit.Payload{"reason": reason}
	if party != nil {
		r.PartyID = party.ID
		payload["party"] = party.ID
	}
	return r, &audit.Record{Actor: a, Action: ActionErasureRequested, SubjectType: "erasure_request", SubjectID: r.ID,
		CaseID: c.ID, Payload: payload}, nil
}

// DecideErasureConfirm decides confirming r: an admin who is not the one
// who filed it, a pending request, and a case still erasable now (a hold
// set since the request stops it). It returns the erasure to carry out;
// the store overwrites the rows, fills in Counts and writes ErasureEvent.
func DecideErasureConfirm(a countersign.Actor, r *ErasureRequest, c *Case, party *Party, holds []*Hold, p RetentionPolicy, now time.Time) (*Erasure, error) {
	if err := CheckErasureAdmin(a); err != nil {
		return nil, err
	}
	if r.Status != RequestPending {
		return nil, countersign.Errorf(countersign.ECONFLICT, "This erasure request is no longer pending (%s).", r.Status)
	}
	if r.RequestedBy == a.UserID {
		return nil, countersign.Errorf(countersign.EFORBIDDEN, "A second admin must confirm this erasure; you filed the request yourself.")
	}
	if err := CheckErasable(c, party, holds, p, now); err != nil {
		return nil, err
	}
	t := now
	r.Status, r.ConfirmedBy, r.ConfirmedAt = RequestDone, a.UserID, &t
	return &Erasure{ID: countersign.NewID(PrefixErasure), CaseID: c.ID, PartyID: r.PartyID, CaseType: c.CaseType, TeamID: c.TeamID,
		Rule: RuleRequest, ReasonCode: r.ReasonCode, PolicyVersion: p.Version, RequestID: r.ID, ErasedAt: now}, nil
}

// Expired reports whether the retention job must erase c at now: closed,
// its period (of its type) over, and no legal hold standing. A case type
// the policy does not name is kept until someone asks.
func Expired(c *Case, holds []*Hold, p RetentionPolicy, now time.Time) bool {
	at, ok := ExpiresAt(c, p)
	return ok && !now.Before(at) && activeHold(holds) == nil
}

// ExpiresAt returns when the retention period of c ends: its closure plus
// its type's period; false when c is not closed or its type has no period.
func ExpiresAt(c *Case, p RetentionPolicy) (time.Time, bool) {
	period, ok := p.Keep[c.CaseType]
	if !ok || c.Status != StatusClosed || c.ClosedAt == nil {
		return time.Time{}, false
	}
	return period.After(*c.ClosedAt), true
}

// DecideExpiry returns the erasure the retention job carries out for an
// expired case c (Expired), by the system actor a.
func DecideExpiry(a countersign.Actor, c *Case, holds []*Hold, p RetentionPolicy, now time.Time) (*Erasure, error) {
	if !Expired(c, holds, p, now) {
		return nil, countersign.Errorf(countersign.ECONFLICT, "This case's retention period has not ended, or a legal hold stands.")
	}
	return &Erasure{ID: countersign.NewID(PrefixErasure), CaseID: c.ID, CaseType: c.CaseType, TeamID: c.TeamID, Rule: RuleRetention,
		ReasonCode: "retention_expired", PolicyVersion: p.Version, ErasedAt: now}, nil
}

// ErasureEvent is the one event an erasure writes: case.erased (or
// party.erased), with the rule, the reason, the policy version, the
// request and the counts of rows overwritten by table. The store calls it
// once the counts are known.
func ErasureEvent(a countersign.Actor, e *Erasure) *audit.Record {
	p := audit.Payload{"rule": e.Rule, "reason": e.ReasonCode, "policy_version": e.PolicyVersion, "erasure": e.ID,
		"keys": strconv.Itoa(e.Keys)}
	if e.RequestID != "" {
		p["request"] = e.RequestID
	}
	for _, t := range ErasedTables {
		p[t] = strconv.Itoa(e.Counts[t])
	}
	if e.PartyID != "" {
		p["party"] = e.PartyID
		return &audit.Record{Actor: a, Action: ActionPartyErased, SubjectType: "party", SubjectID: e.PartyID, CaseID: e.CaseID, Payload: p}
	}
	return &audit.Record{Actor: a, Action: ActionCaseErased, SubjectType: "case", SubjectID: e.CaseID, CaseID: e.CaseID, Payload: p}
}

// Period is a retention period: N days or N calendar years.
type Period struct {
	N    int
	Unit byte // 'd' or 'y'
}

// ParsePeriod reads "8y", "30d" or "0d".
func ParsePeriod(s string) (Period, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 {
		return Period{}, fmt.Errorf("%q is not a period; write a number of years or days, such as 8y or 30d", s)
	}
	unit := s[len(s)-1]
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n < 0 || (unit != 'd' && unit != 'y') || (unit == 'y' && n > 200) || (unit == 'd' && n > 73000) {
		return Period{}, fmt.Errorf("%q is not a period; write a number of years or days, such as 8y or 30d", s)
	}
	return Period{N: n, Unit: unit}, nil
}

// String writes p as it is read: "8y", "30d".
func (p Period) String() string { return strconv.Itoa(p.N) + string(p.Unit) }

// Words writes p for a sentence: "8 years", "30 days".
func (p Period) Words() string {
	u := "days"
	if p.Unit == 'y' {
		u = "years"
	}
	if p.N == 1 {
		u = u[:len(u)-1]
	}
	return strconv.Itoa(p.N) + " " + u
}

// After returns t plus p (calendar years, or days).
func (p Period) After(t time.Time) time.Time {
	if p.Unit == 'y' {
		return t.AddDate(p.N, 0, 0)
	}
	return t.AddDate(0, 0, p.N)
}

// RetentionPolicy says how long each type of case is kept after closure
// (Keep), and, for some, the minimum a request may not shorten (Minimum).
// Version names the policy in the log: the SHA-256 digest (hex) of its
// rules, one "keep <type> <period>" or "minimum <type> <period>" line each,
// sorted and joined by LF, so that two services with the same rules give
// the same version, and any change of a rule gives a new one.
type RetentionPolicy struct {
	Version string            `json:"version"`
	Keep    map[string]Period `json:"-"`
	Minimum map[string]Period `json:"-"`
}

// DefaultRetention is the policy without a retention: section: no case is
// erased by the job; requests are bound by no minimum.
func DefaultRetention() RetentionPolicy {
	p := RetentionPolicy{Keep: map[string]Period{}, Minimum: map[string]Period{}}
	p.Version = p.digest()
	return p
}

func (p RetentionPolicy) digest() string {
	var lines []string
	for t, d := range p.Keep {
		lines = append(lines, "keep "+t+" "+d.String())
	}
	for t, d := range p.Minimum {
		lines = append(lines, "minimum "+t+" "+d.String())
	}
	sort.Strings(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:])
}

// ParseRetention reads the policy file's retention: section: case type →
// period ("8y", "30d", "0d": erased at the next run), and an optional
// minimum: map of case type → period that erasure on request may not
// shorten. caseTypes are the authority's case types. On error it returns
// the field at fault.
func ParseRetention(raw map[string]any, caseTypes []string) (RetentionPolicy, string, error) {
	p := DefaultRetention()
	for _, t := range slices.Sorted(maps.Keys(raw)) {
		field := "retention." + t
		if t == "minimum" {
			m, ok := raw[t].(map[string]any)
			if !ok {
				return RetentionPolicy{}, field, fmt.Errorf("give a map of case types to periods, such as child_protection: 25y")
			}
			for mt, v := range m {
				d, f, err := parseRule(field+"."+mt, mt, v, caseTypes)
				if err != nil {
					return RetentionPolicy{}, f, err
				}
				p.Minimum[mt] = d
			}
			continue
		}
		d, f, err := parseRule(field, t, raw[t], caseTypes)
		if err != nil {
			return RetentionPolicy{}, f, err
		}
		p.Keep[t] = d
	}
	for t, m := range p.Minimum {
		if k, ok := p.Keep[t]; ok && m.After(time.Time{}).After(k.After(time.Time{})) {
			return RetentionPolicy{}, "retention.minimum." + t, fmt.Errorf("the minimum (%s) is longer than the period the case is kept (%s)", m, k)
		}
	}
	p.Version = p.digest()
	return p, "", nil
}

func parseRule(field, caseType string, v any, caseTypes []string) (Period, string, error) {
	if !slices.Contains(caseTypes, caseType) {
		return Period{}, field, fmt.Errorf("%q is not one of the case types (case_types): %s", caseType, strings.Join(caseTypes, ", "))
	}
	s, ok := v.(string)
	if !ok {
		return Period{}, field, fmt.Errorf("write a number of years or days, such as 8y or 30d")
	}
	d, err := ParsePeriod(s)
	if err != nil {
		return Period{}, field, err
	}
	return d, "", nil
}

// PlannedErasure is one line of the retention plan: a closed case of a
// type the policy keeps for a period, when that period ends, and whether a
// hold stops it.
type PlannedErasure struct {
	CaseID    string    `json:"case_id"`
	Reference string    `json:"reference"`
	CaseType  string    `json:"case_type"`
	ClosedAt  time.Time `json:"closed_at"`
	Period    string    `json:"period"`
	ErasesAt  time.Time `json:"erases_at"`
	Held      bool      `json:"held"`
	Due       bool      `json:"due"`
}

// Plan returns the plan line of c under p at now; false when no period
// applies (open, or a type the policy does not name).
func Plan(c *Case, holds []*Hold, p RetentionPolicy, now time.Time) (PlannedErasure, bool) {
	at, ok := ExpiresAt(c, p)
	if !ok {
		return PlannedErasure{}, false
	}
	held := activeHold(holds) != nil
	return PlannedErasure{CaseID: c.ID, Reference: c.Reference, CaseType: c.CaseType, ClosedAt: *c.ClosedAt,
		Period: p.Keep[c.CaseType].String(), ErasesAt: at, Held: held, Due: !held && !now.Before(at)}, true
}

// BoardRow is one line of the ethics board's view of retention: per month
// (YYYY-MM, UTC), kind ("erasure" or "hold"), rule (for erasures:
// retention or request; for holds: set or lifted), case type and reason
// code, how many. No case content, no names, no case ids.
type BoardRow struct {
	Month    string `json:"month"`
	Kind     string `json:"kind"`
	Rule     string `json:"rule"`
	CaseType string `json:"case_type"`
	Reason   string `json:"reason_code"`
	Parties  bool   `json:"party_only"`
	Count    int    `json:"count"`
}

// ErasureFilter selects erasures; nil fields are not applied.
type ErasureFilter struct {
	CaseID  *string
	PartyID *string
}

// RetentionStore closes and reopens cases, keeps legal holds and erasure
// requests, and erases. The acting user comes from the context; every
// change appends its audit event in the same transaction.
type RetentionStore interface {
	// CloseCase closes a case (DecideClose). Returns ENOTFOUND, EINVALID
	// (reason_code), EFORBIDDEN or ECONFLICT.
	CloseCase(ctx context.Context, caseID, reasonCode string) (*Case, error)
	// ReopenCase reopens a closed case (DecideReopen).
	ReopenCase(ctx context.Context, caseID string) (*Case, error)
	// SetHold sets a legal hold (DecideHold).
	SetHold(ctx context.Context, caseID, reasonCode string) (*Hold, error)
	// LiftHold lifts a legal hold of the case (DecideLiftHold).
	LiftHold(ctx context.Context, caseID, holdID, reasonCode string) (*Hold, error)
	// FindHolds returns the holds of a case, oldest first.
	FindHolds(ctx context.Context, caseID string) ([]*Hold, error)
	// RequestErasure files an erasure request of a case, or of one
	// party's details (partyID not ""), by an admin (DecideErasureRequest).
	RequestErasure(ctx context.Context, caseID, partyID, reasonCode string) (*ErasureRequest, error)
	// ConfirmErasure confirms a request as a second admin and erases
	// (DecideErasureConfirm).
	ConfirmErasure(ctx context.Context, requestID string) (*Erasure, error)
	// FindErasureRequests returns a case's requests (all cases for "",
	// admins only), newest first; with pendingOnly, the waiting ones.
	FindErasureRequests(ctx context.Context, caseID string, pendingOnly bool) ([]*ErasureRequest, error)
	// FindErasures returns the erasures f selects, oldest first.
	FindErasures(ctx context.Context, f ErasureFilter) ([]*Erasure, error)
	// FindTombstone returns what remains of an erased case; ENOTFOUND
	// when it is not erased.
	FindTombstone(ctx context.Context, caseID string) (*Tombstone, error)
	// RetentionBoard returns the erasures and holds by month, rule, case
	// type and reason (ethics board and admins).
	RetentionBoard(ctx context.Context) ([]BoardRow, error)
	// RetentionPlan lists the closed cases with a period: when each is
	// erased, and whether a hold stops it (admins, the service).
	RetentionPlan(ctx context.Context) ([]PlannedErasure, error)
	// RunRetention erases up to limit expired cases, exactly once across
	// replicas, and returns what it erased.
	RunRetention(ctx context.Context, limit int) ([]*Erasure, error)
}
