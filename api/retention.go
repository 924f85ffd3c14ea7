package api

import (
	"net/http"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/casefile"
)

// Retention and erasure (issue 19): a case's supervisor closes and reopens
// it, a supervisor or an admin sets and lifts legal holds, one admin files
// an erasure request and a second confirms it. The rules are casefile's
// (casefile/retention.go); the store applies them with their events.

// retentionRoutes adds the retention endpoints to mux.
func (s *Server) retentionRoutes(mux *http.ServeMux) {
	authed := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.authenticate(h)) }
	authed("POST /v1/cases/{id}/close", s.handleCaseClose)
	authed("POST /v1/cases/{id}/reopen", s.handleCaseReopen)
	authed("GET /v1/cases/{id}/holds", s.handleHoldList)
	authed("POST /v1/cases/{id}/holds", s.handleHoldSet)
	authed("POST /v1/cases/{id}/holds/{hold}/lift", s.handleHoldLift)
	authed("POST /v1/cases/{id}/erasure-requests", s.handleErasureRequest)
	authed("GET /v1/erasure-requests", s.handleErasureRequestList)
	authed("POST /v1/erasure-requests/{id}/confirm", s.handleErasureConfirm)
}

// retentionStore returns the store of retention, or writes the 404 that
// says there is none: the case store serves it when it can.
func (s *Server) retentionStore(w http.ResponseWriter, r *http.Request) casefile.RetentionStore {
	st := s.Retention
	if st == nil {
		st, _ = s.Cases.(casefile.RetentionStore)
	}
	if st == nil {
		Error(w, r, countersign.Errorf(countersign.ENOTFOUND, "There is no such endpoint."))
	}
	return st
}

type closeRequest struct {
	ReasonCode string `json:"reason_code" validate:"required,max=64"`
}

type holdRequest struct {
	ReasonCode string `json:"reason_code" validate:"required,max=64"`
}

type erasureFileRequest struct {
	ReasonCode string `json:"reason_code" validate:"required,max=64"`
	PartyID    string `json:"party_id" validate:"omitempty,max=64"`
}

// handleCaseClose serves POST /v1/cases/{id}/close {reason_code}: the
// case's supervisor closes it; its retention period starts.
func (s *Server) handleCaseClose(w http.ResponseWriter, r *http.Request) {
	st := s.retentionStore(w, r)
	if st == nil {
		return
	}
	var req closeRequest
	if err := s.decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	c, err := st.CloseCase(r.Context(), r.PathValue("id"), req.ReasonCode)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, c)
}

// handleCaseReopen serves POST /v1/cases/{id}/reopen: the case's
// supervisor reopens a closed case.
func (s *Server) handleCaseReopen(w http.ResponseWriter, r *http.Request) {
	st := s.retentionStore(w, r)
	if st == nil {
		return
	}
	c, err := st.ReopenCase(r.Context(), r.PathValue("id"))
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, c)
}

type holdListResponse struct {
	Holds []*casefile.Hold `json:"holds"`
}

// handleHoldList serves GET /v1/cases/{id}/holds: the case's legal holds,
// standing and lifted, oldest first.
func (s *Server) handleHoldList(w http.ResponseWriter, r *http.Request) {
	st := s.retentionStore(w, r)
	if st == nil {
		return
	}
	hs, err := st.FindHolds(r.Context(), r.PathValue("id"))
	if err != nil {
		Error(w, r, err)
		return
	}
	if hs == nil {
		hs = []*casefile.Hold{}
	}
	JSON(w, http.StatusOK, holdListResponse{Holds: hs})
}

// handleHoldSet serves POST /v1/cases/{id}/holds {reason_code}: a legal
// hold, by the case's supervisor or an admin.
func (s *Server) handleHoldSet(w http.ResponseWriter, r *http.Request) {
	st := s.retentionStore(w, r)
	if st == nil {
		return
	}
	var req holdRequest
	if err := s.decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	h, err := st.SetHold(r.Context(), r.PathValue("id"), req.ReasonCode)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusCreated, h)
}

// handleHoldLift serves POST /v1/cases/{id}/holds/{hold}/lift
// {reason_code}: the hold is lifted, by the case's supervisor or an admin.
func (s *Server) handleHoldLift(w http.ResponseWriter, r *http.Request) {
	st := s.retentionStore(w, r)
	if st == nil {
		return
	}
	var req holdRequest
	if err := s.decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	h, err := st.LiftHold(r.Context(), r.PathValue("id"), r.PathValue("hold"), req.ReasonCode)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, h)
}

// handleErasureRequest serves POST /v1/cases/{id}/erasure-requests
// {reason_code, party_id?}: an admin asks for the case (or one person's
// details in it) to be erased; a second admin confirms.
func (s *Server) handleErasureRequest(w http.ResponseWriter, r *http.Request) {
	st := s.retentionStore(w, r)
	if st == nil {
		return
	}
	var req erasureFileRequest
	if err := s.decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	er, err := st.RequestErasure(r.Context(), r.PathValue("id"), req.PartyID, req.ReasonCode)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusCreated, er)
}

type erasureRequestListResponse struct {
	Requests []*casefile.ErasureRequest `json:"requests"`
}

// handleErasureRequestList serves GET /v1/erasure-requests: the requests
// waiting for a second admin (admins only).
func (s *Server) handleErasureRequestList(w http.ResponseWriter, r *http.Request) {
	st := s.retentionStore(w, r)
	if st == nil {
		return
	}
	rs, err := st.FindErasureRequests(r.Context(), "", true)
	if err != nil {
		Error(w, r, err)
		return
	}
	if rs == nil {
		rs = []*casefile.ErasureRequest{}
	}
	JSON(w, http.StatusOK, erasureRequestListResponse{Requests: rs})
}

// handleErasureConfirm serves POST /v1/erasure-requests/{id}/confirm: a
// second admin confirms, and the case (or the person's details) is erased.
func (s *Server) handleErasureConfirm(w http.ResponseWriter, r *http.Request) {
	st := s.retentionStore(w, r)
	if st == nil {
		return
	}
	e, err := st.ConfirmErasure(r.Context(), r.PathValue("id"))
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, e)
}
