package api

import (
	"context"
	"net/http"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/review"
)

// The client's right to answer through the JSON API (client/response.go):
// the client says an entry of their file is wrong, or adds their own view;
// the response waits in the worker's review queue; the worker answers it.

// clientResponseRoutes adds the responses' endpoints to mux.
func (s *Server) clientResponseRoutes(mux *http.ServeMux) {
	own := func(pattern string, h http.HandlerFunc) { s.clientAuthed(mux, pattern, h) }
	authed := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.authenticate(h)) }
	own("POST /v1/client/record/{entry_id}/responses", s.handleClientRespond)
	own("GET /v1/client/responses", s.handleClientResponses)
	authed("GET /v1/client-responses/{id}", s.handleClientResponseGet)
	authed("POST /v1/client-responses/{id}/answer", s.handleClientResponseAnswer)
}

// responses returns the store of the client's responses: Responses, or
// the case store, when either serves them (sqlstore's does). Nil when
// neither does.
func (s *Server) responses() client.ResponseStore {
	if rs, ok := s.Responses.(client.ResponseStore); ok {
		return rs
	}
	if rs, ok := s.Cases.(client.ResponseStore); ok {
		return rs
	}
	return nil
}

// noResponses answers when no store keeps responses.
func noResponses(w http.ResponseWriter, r *http.Request) {
	Error(w, r, countersign.Errorf(countersign.ENOTFOUND, "There is no such endpoint."))
}

type clientRespondRequest struct {
	// Kind and Text are checked by client.DecideResponse, whose sentences
	// are written for the client.
	Kind string `json:"kind" validate:"required"`
	Text string `json:"text" validate:"required"`
}

// handleClientRespond serves POST /v1/client/record/{entry_id}/responses:
// 201 with the response, which waits for the worker's answer.
func (s *Server) handleClientRespond(w http.ResponseWriter, r *http.Request) {
	rs := s.responses()
	if rs == nil {
		noResponses(w, r)
		return
	}
	var req clientRespondRequest
	if err := s.decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	resp, err := rs.Respond(r.Context(), r.PathValue("entry_id"), client.ResponseKind(req.Kind), req.Text)
	if err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/client/responses#"+resp.ID)
	JSON(w, http.StatusCreated, resp)
}

// handleClientResponses serves GET /v1/client/responses: the client's
// responses, newest first, each with its answer once given.
func (s *Server) handleClientResponses(w http.ResponseWriter, r *http.Request) {
	rs := s.responses()
	if rs == nil {
		noResponses(w, r)
		return
	}
	list, err := rs.FindMyResponses(r.Context())
	if err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	JSON(w, http.StatusOK, map[string]any{"responses": nonNil(list)})
}

// handleClientResponseGet serves GET /v1/client-responses/{id} to staff
// who may read the case; the read is logged before the text is returned.
func (s *Server) handleClientResponseGet(w http.ResponseWriter, r *http.Request) {
	rs := s.responses()
	if rs == nil {
		noResponses(w, r)
		return
	}
	resp, err := rs.FindResponse(r.Context(), r.PathValue("id"))
	if err == nil {
		err = s.logRead(r, client.Read{CaseID: resp.CaseID, What: client.ReadRecord, TargetID: resp.ID})
	}
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, resp)
}

type clientAnswerRequest struct {
	Outcome string `json:"outcome" validate:"required,oneof=corrected declined attached"`
	// Reason is for the client: required to decline (client.DecideAnswer).
	Reason string `json:"reason" validate:"max=2000"`
	// Content is the corrected entry, with outcome corrected; it goes
	// through the record's correction path and its policy.
	Content           string `json:"content" validate:"max=200000"`
	ConfirmHighStakes bool   `json:"confirm_high_stakes"`
}

// handleClientResponseAnswer serves POST /v1/client-responses/{id}/answer.
func (s *Server) handleClientResponseAnswer(w http.ResponseWriter, r *http.Request) {
	rs := s.responses()
	if rs == nil {
		noResponses(w, r)
		return
	}
	var req clientAnswerRequest
	if err := s.decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	resp, err := rs.AnswerResponse(r.Context(), r.PathValue("id"), client.Answer{Outcome: client.AnswerOutcome(req.Outcome),
		Reason: req.Reason, Content: req.Content, ConfirmHighStakes: req.ConfirmHighStakes})
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, resp)
}

// queueDraft is a draft as the review queue lists it: typed "draft", so it
// is told apart from the client responses the queue lists beside it.
type queueDraft struct {
	Type string `json:"type"`
	*review.Draft
}

// queueWithResponses is a review store that reads the review queue with
// the clients' responses waiting for the actor (sqlstore: one statement on
// PostgreSQL). Being the review store, it keeps those responses too: the
// server reads them through it rather than through responses().
type queueWithResponses interface {
	FindQueueWithResponses(ctx context.Context, f review.QueueFilter) ([]*review.Draft, string, []*client.Response, error)
}

// writeQueue reads and writes the review queue of f: the drafts of this
// page, each typed "draft", and on the first page the clients' responses
// waiting for the actor's answer, each typed "client_response". The first
// page is one read when the review store reads both (queueWithResponses).
func (s *Server) writeQueue(w http.ResponseWriter, r *http.Request, f review.QueueFilter) {
	var drafts []*review.Draft
	var next string
	var list []*client.Response
	var err error
	rs := s.responses()
	if qr, ok := s.Review.(queueWithResponses); ok && rs != nil && f.After == "" {
		drafts, next, list, err = qr.FindQueueWithResponses(r.Context(), f)
	} else if drafts, next, err = s.Review.FindQueue(r.Context(), f); err == nil && rs != nil && f.After == "" {
		list, err = rs.FindOpenResponses(r.Context())
	}
	if err != nil {
		Error(w, r, err)
		return
	}
	items := make([]queueDraft, len(drafts))
	for i, d := range drafts {
		items[i] = queueDraft{Type: "draft", Draft: d}
	}
	responses := make([]queueResponse, len(list))
	for i, x := range list {
		responses[i] = queueResponse{Response: x}
	}
	JSON(w, http.StatusOK, map[string]any{"drafts": items, "client_responses": responses, "next": next})
}

// queueResponse is a client's response as the review queue lists it:
// without the client's words, which a person reads with GET
// /v1/client-responses/{id}, a logged read of the case's record, as the
// queue lists drafts without their text. Text, empty, hides the
// response's own (the shallower field wins in encoding/json).
type queueResponse struct {
	*client.Response
	Text string `json:"text,omitempty"`
}

// writeRecord writes a case's record with the clients' own views attached
// to its entries, which every reader of the record sees.
func (s *Server) writeRecord(w http.ResponseWriter, r *http.Request, caseID string, entries []*review.Entry) {
	views := map[string][]*client.Response{}
	if rs := s.responses(); rs != nil {
		v, err := rs.FindAttachedViews(r.Context(), caseID)
		if err != nil {
			Error(w, r, err)
			return
		}
		views = v
	}
	JSON(w, http.StatusOK, map[string]any{"entries": nonNil(entries), "client_views": views})
}
