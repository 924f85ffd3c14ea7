package api

import (
	"net/http"

	"github.com/countersign/countersign/review"
)

type countersignRequest struct {
	Comment string `json:"comment" validate:"omitempty,max=2000"`
}

// handleDraftCountersign serves POST /v1/drafts/{id}/countersign: a
// supervisor of the team, neither the first signer nor the requester, signs
// a draft awaiting countersignature into the record. 200 with the entry.
func (s *Server) handleDraftCountersign(w http.ResponseWriter, r *http.Request) {
	var req countersignRequest
	if err := s.decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	e, err := s.Review.CountersignDraft(r.Context(), r.PathValue("id"), review.Countersign{Comment: req.Comment, IfMatch: r.Header.Get("If-Match")})
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, e)
}

type reassignRequest struct {
	WorkerID string `json:"worker_id" validate:"required,max=64"`
}

// handleDraftReassign serves POST /v1/drafts/{id}/reassign: a supervisor
// gives a pending draft to another worker of the team. 200 with the draft.
func (s *Server) handleDraftReassign(w http.ResponseWriter, r *http.Request) {
	var req reassignRequest
	if err := s.decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	d, err := s.Review.ReassignDraft(r.Context(), r.PathValue("id"), req.WorkerID)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, d)
}

// handleDraftRetry serves POST /v1/drafts/{id}/retry: the person who asked
// for a failed draft, its reviewer or a supervisor of its team queues it
// again (review.DecideRetry). 202 with the draft; 409 when it has not failed.
func (s *Server) handleDraftRetry(w http.ResponseWriter, r *http.Request) {
	d, err := s.Review.RetryDraft(r.Context(), r.PathValue("id"))
	if err != nil {
		Error(w, r, err)
		return
	}
	if s.DraftQueued != nil {
		s.DraftQueued(d.ID)
	}
	w.Header().Set("Location", "/v1/drafts/"+d.ID)
	JSON(w, http.StatusAccepted, d)
}

type correctRequest struct {
	// Content is checked by the store, in bytes, like an approval's edit.
	Content string `json:"content" validate:"required"`
	Reason  string `json:"reason" validate:"required,notblank,max=2000"`
	// ConfirmHighStakes confirms the statements about risk, safeguarding,
	// capacity or health that the correction adds.
	ConfirmHighStakes bool `json:"confirm_high_stakes"`
}

// handleRecordCorrect serves POST /v1/cases/{id}/record/{entry}/correct: a
// new signed entry supersedes the given one with a reason; both stay in the
// record. 201 with the new entry, or 202 with it pending when the
// correction needs a supervisor's countersignature (review.DecideCorrection).
func (s *Server) handleRecordCorrect(w http.ResponseWriter, r *http.Request) {
	var req correctRequest
	if err := s.decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	e, err := s.Review.CorrectEntry(r.Context(), r.PathValue("id"), r.PathValue("entry"), review.Correction{Content: req.Content, Reason: req.Reason, ConfirmHighStakes: req.ConfirmHighStakes})
	if err != nil {
		Error(w, r, err)
		return
	}
	if e.Pending {
		JSON(w, http.StatusAccepted, e)
		return
	}
	JSON(w, http.StatusCreated, e)
}

// handleCorrectionCountersign serves POST
// /v1/cases/{id}/record/{entry}/countersign: a supervisor of the team who
// did not write the pending correction {entry} signs it into the record. 200
// with the entry now in force.
func (s *Server) handleCorrectionCountersign(w http.ResponseWriter, r *http.Request) {
	var req countersignRequest
	if err := s.decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	e, err := s.Review.CountersignCorrection(r.Context(), r.PathValue("id"), r.PathValue("entry"), req.Comment)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, e)
}

type refuseCorrectionRequest struct {
	Reason string `json:"reason" validate:"required,notblank,max=2000"`
}

// handleCorrectionRefuse serves POST /v1/cases/{id}/record/{entry}/refuse: a
// supervisor turns the pending correction {entry} down; the entry it
// corrects stays in force. 200 with the refused correction.
func (s *Server) handleCorrectionRefuse(w http.ResponseWriter, r *http.Request) {
	var req refuseCorrectionRequest
	if err := s.decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	e, err := s.Review.RefuseCorrection(r.Context(), r.PathValue("id"), r.PathValue("entry"), req.Reason)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, e)
}
