package api

import (
	"net/http"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/casefile"
)

type consentRequest struct {
	// Given is a pointer so that a missing field is told apart from false.
	Given *bool  `json:"given" validate:"required"`
	Note  string `json:"note" validate:"omitempty,max=2000"`
}

// handleConsentGet serves GET /v1/cases/{id}/consent: whether the client
// agreed to AI-assisted drafting, whether the policy requires it, and the
// history of answers.
func (s *Server) handleConsentGet(w http.ResponseWriter, r *http.Request) {
	st, err := s.Cases.FindConsent(r.Context(), r.PathValue("id"))
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, st)
}

// handleConsentRecord serves POST /v1/cases/{id}/consent: records the
// client's answer (given true, or false to refuse or withdraw) and answers
// 201 with the new consent state. A withdrawal stops the case's drafts that
// no model has answered yet.
func (s *Server) handleConsentRecord(w http.ResponseWriter, r *http.Request) {
	if _, err := requireRole(r, countersign.RoleWorker, countersign.RoleSupervisor); err != nil {
		Error(w, r, countersign.Errorf(countersign.EFORBIDDEN, "Only the case's worker or a supervisor of its team can record the client's consent."))
		return
	}
	var req consentRequest
	if err := s.decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	c := &casefile.Consent{CaseID: r.PathValue("id"), Given: *req.Given, Note: req.Note}
	if err := s.Cases.RecordConsent(r.Context(), c); err != nil {
		Error(w, r, err)
		return
	}
	st, err := s.Cases.FindConsent(r.Context(), c.CaseID)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusCreated, st)
}
