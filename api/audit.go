package api

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/internal/httpx"
)

// auditRoles may read the audit log, at both doors (httpx.AuditRoles).
var auditRoles = httpx.AuditRoles

// eventJSON is an audit event as the API shows it, with its leaf data.
type eventJSON struct {
	*audit.Event
	Canonical string `json:"canonical"`
}

func (s *Server) sequence(r *http.Request) error {
	// Reads see every event committed before the request, not only those
	// the background sequencer has reached.
	_, err := s.Audit.Sequence(r.Context())
	return err
}

// handleAuditEntries serves GET /v1/audit/entries.
func (s *Server) handleAuditEntries(w http.ResponseWriter, r *http.Request) {
	if _, err := requireRole(r, auditRoles...); err != nil {
		Error(w, r, err)
		return
	}
	q := r.URL.Query()
	var f audit.EventFilter
	var fields []countersign.FieldError
	str := func(name string) *string {
		if v := q.Get(name); v != "" {
			return &v
		}
		return nil
	}
	f.CaseID, f.ActorID, f.Action = str("case"), str("actor"), str("action")
	f.Since, f.Until = queryTime(q, "since", &fields), queryTime(q, "until", &fields)
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			fields = append(fields, countersign.FieldError{Field: "after", Message: "Give an entry number."})
		}
		f.After = &n
	}
	limit, err := queryInt(r, "limit", 100)
	if err != nil {
		Error(w, r, err)
		return
	}
	if limit > 1000 {
		fields = append(fields, countersign.FieldError{Field: "limit", Message: "Ask for at most 1000 entries at a time."})
	}
	f.Limit = limit
	if fields != nil {
		Error(w, r, countersign.InvalidFields("The filters have mistakes.", fields...))
		return
	}
	if err := s.sequence(r); err != nil {
		Error(w, r, err)
		return
	}
	events, err := s.Audit.FindEvents(r.Context(), f)
	if err != nil {
		Error(w, r, err)
		return
	}
	out := make([]eventJSON, len(events))
	for i, e := range events {
		out[i] = eventJSON{Event: e, Canonical: base64.StdEncoding.EncodeToString(e.Canonical())}
	}
	var next string
	if len(events) == f.Limit && len(events) > 0 {
		next = strconv.FormatUint(events[len(events)-1].Seq, 10)
	}
	JSON(w, http.StatusOK, map[string]any{"entries": out, "next": next})
}

// handleAuditEntry serves GET /v1/audit/entries/{seq}.
func (s *Server) handleAuditEntry(w http.ResponseWriter, r *http.Request) {
	if _, err := requireRole(r, auditRoles...); err != nil {
		Error(w, r, err)
		return
	}
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		Error(w, r, countersign.InvalidFields("The entry number is not valid.", countersign.FieldError{Field: "seq", Message: "Give a whole number, 0 or more."}))
		return
	}
	if err := s.sequence(r); err != nil {
		Error(w, r, err)
		return
	}
	e, err := s.Audit.FindEventBySeq(r.Context(), seq)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, eventJSON{Event: e, Canonical: base64.StdEncoding.EncodeToString(e.Canonical())})
}

// handleAuditExport serves GET /v1/audit/export: NDJSON, streamed, headed by
// the signed checkpoint the events are consistent with.
func (s *Server) handleAuditExport(w http.ResponseWriter, r *http.Request) {
	if _, err := requireRole(r, auditRoles...); err != nil {
		Error(w, r, err)
		return
	}
	if s.AuditProofs == nil || s.Export == nil {
		Error(w, r, countersign.Errorf(countersign.ENOTFOUND, "Audit export is not enabled on this server."))
		return
	}
	cp, err := s.AuditProofs.Checkpoint(r.Context())
	if err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="countersign-audit.ndjson"`)
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := s.Export(r.Context(), bw, cp); err != nil {
		// Headers are gone; the truncated stream fails verification, which
		// is the honest outcome.
		logger(r).Error("audit export", "err", err)
		return
	}
	_ = bw.Flush()
}

// handleAuditCheckpoint serves GET /v1/audit/checkpoint: the signed note as text.
func (s *Server) handleAuditCheckpoint(w http.ResponseWriter, r *http.Request) {
	if _, err := requireRole(r, auditRoles...); err != nil {
		Error(w, r, err)
		return
	}
	if s.AuditProofs == nil {
		Error(w, r, countersign.Errorf(countersign.ENOTFOUND, "Checkpoints are not enabled on this server."))
		return
	}
	cp, err := s.AuditProofs.Checkpoint(r.Context())
	if err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(cp.Note)
}

func uintParam(r *http.Request, name string, required bool, fields *[]countersign.FieldError) uint64 {
	v := r.URL.Query().Get(name)
	if v == "" {
		if required {
			*fields = append(*fields, countersign.FieldError{Field: name, Message: "This parameter is required."})
		}
		return 0
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		*fields = append(*fields, countersign.FieldError{Field: name, Message: "Give a whole number, 0 or more."})
	}
	return n
}

// proofRequest checks that the caller may read proofs and that proofs are
// served, and parses the proof's two numbers: first is required, second may
// be left out (0). When it reports false it has written the problem.
func (s *Server) proofRequest(w http.ResponseWriter, r *http.Request, first, second string) (uint64, uint64, bool) {
	if _, err := requireRole(r, auditRoles...); err != nil {
		Error(w, r, err)
		return 0, 0, false
	}
	var fields []countersign.FieldError
	a, b := uintParam(r, first, true, &fields), uintParam(r, second, false, &fields)
	if fields != nil {
		Error(w, r, countersign.InvalidFields("The proof request has mistakes.", fields...))
		return 0, 0, false
	}
	if s.AuditProofs == nil {
		Error(w, r, countersign.Errorf(countersign.ENOTFOUND, "Proofs are not enabled on this server."))
		return 0, 0, false
	}
	return a, b, true
}

// handleInclusionProof serves GET /v1/audit/proof/inclusion?index=&size=.
func (s *Server) handleInclusionProof(w http.ResponseWriter, r *http.Request) {
	index, size, ok := s.proofRequest(w, r, "index", "size")
	if !ok {
		return
	}
	p, err := s.AuditProofs.InclusionProof(r.Context(), index, size)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, p)
}

// handleConsistencyProof serves GET /v1/audit/proof/consistency?from=&to=.
func (s *Server) handleConsistencyProof(w http.ResponseWriter, r *http.Request) {
	from, to, ok := s.proofRequest(w, r, "from", "to")
	if !ok {
		return
	}
	p, err := s.AuditProofs.ConsistencyProof(r.Context(), from, to)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, p)
}

// handleAuditTile serves GET /v1/audit/tile/{level}/{index...}: one tile of
// the log's Merkle tree, at the path the C2SP tlog-tiles layout gives it
// (https://c2sp.org/tlog-tiles): level 0 to 7, the tile's number written
// three digits at a time ("x001/234"), and ".p/W" for the first W hashes of
// a tile the log has not filled yet. With the checkpoint at
// /v1/audit/checkpoint, a board can mirror the tree and check proofs with
// standard tlog tooling (golang.org/x/mod/sumdb/tlog's TileHashReader).
// The body is the tile's hashes, 32 bytes each.
func (s *Server) handleAuditTile(w http.ResponseWriter, r *http.Request) {
	if _, err := requireRole(r, auditRoles...); err != nil {
		Error(w, r, err)
		return
	}
	tiles, ok := s.Audit.(audit.TileReader)
	if !ok {
		Error(w, r, countersign.Errorf(countersign.ENOTFOUND, "This server does not serve the tiles of its log."))
		return
	}
	t, err := tlog.ParseTilePath("tile/" + strconv.Itoa(audit.TileHeight) + "/" + r.PathValue("level") + "/" + r.PathValue("index"))
	if err != nil || t.L < 0 {
		Error(w, r, countersign.InvalidFields("The tile path is not valid.",
			countersign.FieldError{Field: "level", Message: "Give a tile level from 0 to 7."},
			countersign.FieldError{Field: "index", Message: "Give the tile's number three digits at a time, as x001/234, with .p/W after it for a partial tile of W hashes."}))
		return
	}
	data, err := tiles.ReadTile(r.Context(), uint64(t.L), uint64(t.N))
	if err != nil {
		Error(w, r, err)
		return
	}
	if len(data) < t.W*sha256.Size {
		Error(w, r, countersign.Errorf(countersign.ENOTFOUND, "The log does not hold %d hashes in this tile yet.", t.W))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if t.W == audit.TileWidth {
		// A full tile never changes.
		w.Header().Set("Cache-Control", "private, max-age=31536000, immutable")
	}
	_, _ = w.Write(data[:t.W*sha256.Size])
}
