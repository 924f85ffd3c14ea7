package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/client"
)

// The client's file through the JSON API: their record, who looked at it
// (with the proofs), and everything about them in one bundle; and the log
// of staff reads, written before any case content is returned.

// clientFileRoutes adds the client's file to mux: the client's own
// endpoints, and a worker's export on the client's behalf.
func (s *Server) clientFileRoutes(mux *http.ServeMux) {
	own := func(pattern string, h http.HandlerFunc) { s.clientAuthed(mux, pattern, h) }
	authed := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.authenticate(h)) }
	own("GET /v1/client/record", s.handleClientRecord)
	own("GET /v1/client/access-log", s.handleClientAccessLog)
	own("GET /v1/client/export", s.handleClientExport)
	authed("GET /v1/cases/{id}/parties/{party_id}/export", s.handlePartyExport)
}

// files returns the store of the client's file: Files, or the case store
// when it serves the file too (sqlstore's does). Nil when neither does.
func (s *Server) files() client.FileStore {
	if s.Files != nil {
		return s.Files
	}
	if f, ok := s.Cases.(client.FileStore); ok {
		return f
	}
	return nil
}

// logRead writes the audit event of the actor's read of a case's content
// (client.ReadEvent) before the handler returns it: a read that cannot be
// logged fails, so no read goes unlogged.
func (s *Server) logRead(r *http.Request, read client.Read) error {
	f := s.files()
	if f == nil {
		return countersign.Errorf(countersign.EINTERNAL, "no store logs reads of case content")
	}
	return f.RecordRead(r.Context(), read)
}

// provers returns AuditProofs as the client file's prover, nil when unset
// (a nil interface, not a typed nil).
func (s *Server) provers() client.Prover {
	if s.AuditProofs == nil {
		return nil
	}
	return s.AuditProofs
}

// handleClientRecord serves GET /v1/client/record: the signed entries of
// the client's cases shared with them, the notices of those withheld, and
// their letters.
func (s *Server) handleClientRecord(w http.ResponseWriter, r *http.Request) {
	f := s.files()
	if f == nil {
		Error(w, r, countersign.Errorf(countersign.ENOTFOUND, "There is no such endpoint."))
		return
	}
	rec, err := f.FindClientRecord(r.Context(), false)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, rec)
}

// handleClientAccessLog serves GET /v1/client/access-log?limit=: who read
// the client's file, newest first, with the signed checkpoint and an
// inclusion proof of each read the log holds.
func (s *Server) handleClientAccessLog(w http.ResponseWriter, r *http.Request) {
	f := s.files()
	if f == nil {
		Error(w, r, countersign.Errorf(countersign.ENOTFOUND, "There is no such endpoint."))
		return
	}
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > client.MaxAccessLog {
			Error(w, r, countersign.InvalidFields("The list could not be shown.", countersign.FieldError{Field: "limit",
				Message: "Give a number from 1 to " + strconv.Itoa(client.MaxAccessLog) + "."}))
			return
		}
		limit = n
	}
	l, err := client.ProvedAccessLog(r.Context(), f, s.provers(), limit)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, l)
}

// handleClientExport serves GET /v1/client/export: everything about the
// client, as JSON, or as a printable page with Accept: text/html or
// ?format=html.
func (s *Server) handleClientExport(w http.ResponseWriter, r *http.Request) {
	if err := checkExportFormat(r); err != nil {
		Error(w, r, err)
		return
	}
	s.export(w, r)
}

// checkExportFormat refuses a format the export does not have, rather
// than answering JSON to someone who asked for something else.
func checkExportFormat(r *http.Request) error {
	switch r.URL.Query().Get("format") {
	case "", "json", "html":
		return nil
	}
	return countersign.InvalidFields("The export could not be made.",
		countersign.FieldError{Field: "format", Message: "Choose html for a printable page or json for the file."})
}

// handlePartyExport serves GET /v1/cases/{id}/parties/{party_id}/export: a
// worker gives a client the same bundle on their behalf (a subject access
// request made at the desk). It is itself a read of the case, logged
// before the bundle is made.
func (s *Server) handlePartyExport(w http.ResponseWriter, r *http.Request) {
	f := s.files()
	if f == nil {
		Error(w, r, countersign.Errorf(countersign.ENOTFOUND, "There is no such endpoint."))
		return
	}
	if err := checkExportFormat(r); err != nil {
		Error(w, r, err)
		return
	}
	caseID, partyID := r.PathValue("id"), r.PathValue("party_id")
	p, err := f.PartyPrincipal(r.Context(), caseID, partyID)
	if err != nil {
		Error(w, r, err)
		return
	}
	if err := s.logRead(r, client.Read{CaseID: caseID, What: client.ReadExport, TargetID: partyID}); err != nil {
		Error(w, r, err)
		return
	}
	// The bundle is read as the client would read it: the same rule, the
	// same bundle, whoever asks.
	s.export(w, r.WithContext(client.NewContext(r.Context(), p)))
}

func (s *Server) export(w http.ResponseWriter, r *http.Request) {
	f := s.files()
	if f == nil {
		Error(w, r, countersign.Errorf(countersign.ENOTFOUND, "There is no such endpoint."))
		return
	}
	responses := s.Responses
	if responses == nil {
		responses, _ = s.Cases.(client.ResponseLister)
	}
	b, err := client.Export(r.Context(), f, responses, s.provers(), time.Now())
	if err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if wantsHTML(r) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Disposition", `inline; filename="my-file.html"`)
		if err := client.RenderBundle(w, b); err != nil {
			logger(r).Error("render export", "op", "api.export", "err", err)
		}
		return
	}
	w.Header().Set("Content-Disposition", `attachment; filename="my-file.json"`)
	JSON(w, http.StatusOK, b)
}

// wantsHTML reports whether the request asks for the printable page:
// ?format=html, or an Accept header that names text/html before JSON.
func wantsHTML(r *http.Request) bool {
	switch r.URL.Query().Get("format") {
	case "html":
		return true
	case "json":
		return false
	}
	accept := r.Header.Get("Accept")
	h, j := strings.Index(accept, "text/html"), strings.Index(accept, "application/json")
	return h >= 0 && (j < 0 || h < j)
}
