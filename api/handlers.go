package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/internal/httpx"
	"github.com/countersign/countersign/review"
)

// handleHealth serves GET /healthz: the process is alive.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	JSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReady serves GET /readyz: each dependency reported separately, 503
// when the database is down. A degraded model does not make the service
// unready: everything but drafting still works.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	out := map[string]string{}
	status := http.StatusOK
	for name, check := range s.Checks {
		if err := check(ctx); err != nil {
			out[name] = "degraded: " + countersign.ErrorMessage(err)
			if name == "database" {
				status = http.StatusServiceUnavailable
			}
		} else {
			out[name] = "ok"
		}
	}
	if status != http.StatusOK {
		w.Header().Set("Retry-After", "2")
	}
	JSON(w, status, map[string]any{"status": map[bool]string{true: "ready", false: "unavailable"}[status == http.StatusOK], "checks": out})
}

// handleMe serves GET /v1/me.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	a, _ := countersign.ActorFromContext(r.Context())
	JSON(w, http.StatusOK, a)
}

type caseCreateRequest struct {
	Reference string `json:"reference" validate:"required,max=64"`
	Title     string `json:"title" validate:"required,max=200"`
	CaseType  string `json:"case_type" validate:"omitempty,max=64"`
	WorkerID  string `json:"worker_id" validate:"omitempty,max=64"`
	// RecommendationID names the caseload's recommendation a supervisor
	// was shown (GET /v1/teams/{id}/caseload/recommendation); the case's
	// event records it and the chosen worker's rank in it.
	RecommendationID string `json:"recommendation_id" validate:"omitempty,max=64"`
}

// handleCaseCreate serves POST /v1/cases.
func (s *Server) handleCaseCreate(w http.ResponseWriter, r *http.Request) {
	var req caseCreateRequest
	if err := s.decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	c := &casefile.Case{Reference: req.Reference, Title: req.Title, CaseType: req.CaseType, WorkerID: req.WorkerID}
	create := s.Cases.CreateCase
	if req.RecommendationID != "" {
		st := s.caseloadStore(w, r)
		if st == nil {
			return
		}
		create = func(ctx context.Context, c *casefile.Case) error {
			return st.CreateCaseFollowing(ctx, c, req.RecommendationID)
		}
	}
	if err := create(r.Context(), c); err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusCreated, c)
}

// handleCaseList serves GET /v1/cases: the caller's cases.
func (s *Server) handleCaseList(w http.ResponseWriter, r *http.Request) {
	limit, err := queryInt(r, "limit", 100)
	if err != nil {
		Error(w, r, err)
		return
	}
	offset, err := queryInt(r, "offset", 0)
	if err != nil {
		Error(w, r, err)
		return
	}
	cases, total, err := s.Cases.FindCases(r.Context(), casefile.CaseFilter{Limit: limit, Offset: offset})
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, map[string]any{"cases": nonNil(cases), "total": total})
}

// handleCaseGet serves GET /v1/cases/{id}.
func (s *Server) handleCaseGet(w http.ResponseWriter, r *http.Request) {
	// The read's event is durable before the content leaves (ReadCase).
	c, err := s.Cases.ReadCase(r.Context(), r.PathValue("id"))
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, c)
}

type partyCreateRequest struct {
	Role        string `json:"role" validate:"required,oneof=client other"`
	FullName    string `json:"full_name" validate:"required,max=200"`
	DateOfBirth string `json:"date_of_birth" validate:"omitempty,max=40"`
	Address     string `json:"address" validate:"omitempty,max=300"`
	Phone       string `json:"phone" validate:"omitempty,max=40"`
	Email       string `json:"email" validate:"omitempty,email,max=200"`
	NationalID  string `json:"national_id" validate:"omitempty,max=40"`
	// Language is checked by casefile.DecideParty (one of casefile.PartyLanguages).
	Language string `json:"language" validate:"omitempty,max=8"`
}

// handlePartyCreate serves POST /v1/cases/{id}/parties.
func (s *Server) handlePartyCreate(w http.ResponseWriter, r *http.Request) {
	var req partyCreateRequest
	if err := s.decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	p := &casefile.Party{CaseID: r.PathValue("id"), Role: req.Role, FullName: req.FullName, DateOfBirth: req.DateOfBirth,
		Address: req.Address, Phone: req.Phone, Email: req.Email, NationalID: req.NationalID, Language: req.Language}
	if err := s.Cases.AddParty(r.Context(), p); err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusCreated, p)
}

// handlePartyList serves GET /v1/cases/{id}/parties.
func (s *Server) handlePartyList(w http.ResponseWriter, r *http.Request) {
	parties, err := s.Cases.FindParties(r.Context(), r.PathValue("id"))
	if err == nil {
		// The people of the case (names, dates of birth, addresses,
		// national numbers) are the case's content, as on the case page:
		// logged before they leave (client.ReadEvent).
		err = s.logRead(r, client.Read{CaseID: r.PathValue("id"), What: client.ReadCase})
	}
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, map[string]any{"parties": nonNil(parties)})
}

// MaxNoteBytes bounds one case note, at both doors.
const MaxNoteBytes = httpx.MaxNoteBytes

type noteCreateRequest struct {
	Body      string     `json:"body" validate:"required,notblank,max=32768"`
	WrittenAt *time.Time `json:"written_at"`
	Amends    string     `json:"amends" validate:"omitempty,max=64"`
}

// handleNoteCreate serves POST /v1/cases/{id}/notes.
func (s *Server) handleNoteCreate(w http.ResponseWriter, r *http.Request) {
	var req noteCreateRequest
	if err := s.decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	if strings.ContainsRune(req.Body, 0) {
		Error(w, r, countersign.InvalidFields("The note could not be saved.", countersign.FieldError{Field: "body", Message: "The text contains a NUL character."}))
		return
	}
	n := &casefile.Note{CaseID: r.PathValue("id"), Body: req.Body, Amends: req.Amends}
	if req.WrittenAt != nil {
		if req.WrittenAt.After(time.Now().Add(5 * time.Minute)) {
			Error(w, r, countersign.InvalidFields("The note could not be saved.", countersign.FieldError{Field: "written_at", Message: "A note cannot be written in the future."}))
			return
		}
		n.WrittenAt = *req.WrittenAt
	}
	if err := s.Cases.AddNote(r.Context(), n); err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusCreated, n)
}

// handleNoteList serves GET /v1/cases/{id}/notes.
func (s *Server) handleNoteList(w http.ResponseWriter, r *http.Request) {
	notes, err := s.Cases.FindNotes(r.Context(), r.PathValue("id"))
	if err == nil {
		err = s.logRead(r, client.Read{CaseID: r.PathValue("id"), What: client.ReadNotes})
	}
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, map[string]any{"notes": nonNil(notes)})
}

type draftCreateRequest struct {
	Kind     string     `json:"kind" validate:"required,oneof=summary suggestions letter"`
	NoteIDs  []string   `json:"note_ids" validate:"omitempty,max=200,dive,required,max=64"`
	Since    *time.Time `json:"since"`
	Until    *time.Time `json:"until"`
	Language string     `json:"language" validate:"omitempty,oneof=en fr nl de"`
}

// handleDraftCreate serves POST /v1/cases/{id}/drafts: 202 with the queued
// draft; the drafting workers take it from there.
func (s *Server) handleDraftCreate(w http.ResponseWriter, r *http.Request) {
	var req draftCreateRequest
	if err := s.decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	if req.Since != nil && req.Until != nil && !req.Since.Before(*req.Until) {
		Error(w, r, countersign.InvalidFields("The request has mistakes.", countersign.FieldError{Field: "until", Message: "The end of the period must come after its start."}))
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 200 {
		Error(w, r, countersign.InvalidFields("The request has mistakes.", countersign.FieldError{Field: "Idempotency-Key", Message: "The key is too long: at most 200 characters."}))
		return
	}
	d, err := s.Review.RequestDraft(r.Context(), review.DraftRequest{CaseID: r.PathValue("id"), Kind: assistant.Kind(req.Kind),
		NoteIDs: req.NoteIDs, Since: req.Since, Until: req.Until, Language: req.Language, IdempotencyKey: key})
	if err != nil {
		Error(w, r, err)
		return
	}
	// Prefer: wait=N holds the request until the draft is generated: its
	// waiter is registered before the workers are woken, so the watch
	// learns of the wake-up and of the draft's end here (draft_wait.go).
	wait, prefer := preferWait(r.Header)
	var x *review.Waiter
	if prefer && d.Status.Generating() {
		x, prefer = s.DraftWatch.Watch(d.ID)
	}
	if s.DraftQueued != nil {
		s.DraftQueued(d.ID)
	}
	w.Header().Set("Location", "/v1/drafts/"+d.ID)
	code := http.StatusAccepted
	if x != nil && prefer {
		defer x.Stop()
		// The requester was authorized by the request itself, so the
		// watch's knowledge stands for a status read where it has it. A
		// refused or failed status read answers as without the wait.
		st, held, err := s.holdDraft(r.Context(), x, d.ID, wait, true)
		if held {
			preferenceApplied(w, wait)
		}
		if err == nil && st != "" {
			// The draft as requested, with its status now; its content
			// is read with GET /v1/drafts/{id}. Generation over (ready,
			// or failed), the request is complete: 200.
			d.Status = st
			if !st.Generating() {
				code = http.StatusOK
			}
		}
	}
	JSON(w, code, d)
}

// handleDraftGet serves GET /v1/drafts/{id}. When someone who may decide
// the draft fetches it, that counts as opening it for review: an approval
// or countersignature needs it. The ETag names the version read; an
// approval sending it back as If-Match is refused if the draft changed.
func (s *Server) handleDraftGet(w http.ResponseWriter, r *http.Request) {
	s.waitForDraft(w, r) // Prefer: wait=N holds the request while the draft is generated (draft_wait.go)
	// OpenDraft writes the read's access event before it returns the draft.
	d, err := s.Review.OpenDraft(r.Context(), r.PathValue("id"))
	if err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("ETag", review.DraftETag(d))
	JSON(w, http.StatusOK, d)
}

type approveRequest struct {
	// Content is checked by review.Finalize (empty, size in bytes), so the
	// limit is stated once.
	Content    string                 `json:"content"`
	ReasonCode string                 `json:"reason_code" validate:"omitempty,max=64"`
	Comment    string                 `json:"comment" validate:"omitempty,max=2000"`
	Items      []itemDecisionReq      `json:"items" validate:"omitempty,max=500,dive"`
	Statements []statementDecisionReq `json:"statements" validate:"omitempty,max=500,dive"`
	// Sharing ("shared" or "withheld") and WithheldReason are checked by
	// review.DecideSharing, which also holds the default when they are
	// left out.
	Sharing        string `json:"sharing" validate:"omitempty,max=16"`
	WithheldReason string `json:"withheld_reason" validate:"omitempty,max=64"`
}

// itemDecisionReq and statementDecisionReq bound a comment's length; when a
// comment is required (an ungrounded entry kept) is review.Finalize's rule.
type itemDecisionReq struct {
	ID         string `json:"id" validate:"required,max=64"`
	Accepted   *bool  `json:"accepted" validate:"required"`
	ReasonCode string `json:"reason_code" validate:"omitempty,max=64"`
	Comment    string `json:"comment" validate:"omitempty,max=500"`
}

type statementDecisionReq struct {
	ID         string `json:"id" validate:"required,max=64"`
	Action     string `json:"action" validate:"required,oneof=confirmed removed"`
	ReasonCode string `json:"reason_code" validate:"omitempty,max=64"`
	Comment    string `json:"comment" validate:"omitempty,max=500"`
}

// handleDraftApprove serves POST /v1/drafts/{id}/approve: 200 with the
// record entry when the draft is signed into the record, 202 with the draft
// when it now awaits a supervisor's countersignature. Either carries
// "vigilance" when the draft held a vigilance check.
func (s *Server) handleDraftApprove(w http.ResponseWriter, r *http.Request) {
	var req approveRequest
	if err := s.decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	ap := review.Approval{Content: req.Content, ReasonCode: req.ReasonCode, Comment: req.Comment, IfMatch: r.Header.Get("If-Match"),
		Sharing: req.Sharing, WithheldReason: req.WithheldReason}
	for _, it := range req.Items {
		ap.Items = append(ap.Items, review.ItemDecision{ID: it.ID, Accepted: *it.Accepted, ReasonCode: it.ReasonCode, Comment: it.Comment})
	}
	for _, st := range req.Statements {
		ap.Statements = append(ap.Statements, review.StatementDecision{ID: st.ID, Action: st.Action, ReasonCode: st.ReasonCode, Comment: st.Comment})
	}
	res, err := s.Review.SignOffDraft(r.Context(), r.PathValue("id"), ap)
	if err != nil {
		Error(w, r, err)
		return
	}
	if res.Entry == nil {
		JSON(w, http.StatusAccepted, res.Draft)
		return
	}
	JSON(w, http.StatusOK, res.Entry)
}

type rejectRequest struct {
	Reason  string `json:"reason" validate:"required,max=64"`
	Comment string `json:"comment" validate:"omitempty,max=2000"`
}

// handleDraftReject serves POST /v1/drafts/{id}/reject.
func (s *Server) handleDraftReject(w http.ResponseWriter, r *http.Request) {
	var req rejectRequest
	if err := s.decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	d, err := s.Review.RejectDraft(r.Context(), r.PathValue("id"), review.Rejection{Reason: req.Reason, Comment: req.Comment})
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, d)
}

// handleQueue serves GET /v1/review/queue: a worker's pending drafts, or a
// supervisor's team's drafts pending review or awaiting countersignature.
// Filters: kind, case, status, older_than, overdue=true (waiting longer than
// the policy allows); after and limit page through it.
func (s *Server) handleQueue(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := review.QueueFilter{After: q.Get("after")}
	var err error
	if f.Limit, err = queryInt(r, "limit", 50); err != nil {
		Error(w, r, err)
		return
	}
	if v := q.Get("kind"); v != "" {
		k := assistant.Kind(v)
		if !k.Valid() {
			Error(w, r, countersign.InvalidFields("The request has mistakes.", countersign.FieldError{Field: "kind", Message: "Choose one of: summary, suggestions, letter."}))
			return
		}
		f.Kind = &k
	}
	if v := q.Get("case"); v != "" {
		f.CaseID = &v
	}
	if v := q.Get("status"); v != "" {
		st := review.Status(v)
		f.Status = &st
	}
	switch v := q.Get("overdue"); v {
	case "", "false":
	case "true":
		f.Overdue = true
	default:
		Error(w, r, countersign.InvalidFields("The request has mistakes.", countersign.FieldError{Field: "overdue", Message: "Give true or false."}))
		return
	}
	if v := q.Get("older_than"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			Error(w, r, countersign.InvalidFields("The request has mistakes.", countersign.FieldError{Field: "older_than", Message: "Give a duration such as 30m or 48h."}))
			return
		}
		t := time.Now().Add(-d)
		f.Before = &t
	}
	s.writeQueue(w, r, f)
}

// handleRecord serves GET /v1/cases/{id}/record: signed entries only.
func (s *Server) handleRecord(w http.ResponseWriter, r *http.Request) {
	entries, err := s.Review.FindRecord(r.Context(), r.PathValue("id"))
	if err == nil {
		err = s.logRead(r, client.Read{CaseID: r.PathValue("id"), What: client.ReadRecord})
	}
	if err != nil {
		Error(w, r, err)
		return
	}
	s.writeRecord(w, r, r.PathValue("id"), entries)
}

// nonNil makes empty lists encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
