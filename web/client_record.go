package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/client"
)

// The client's own file on the pages: what was signed about them
// (/client/record), who looked at it, each read with the proof that the
// log holds it, checked in the browser (/client/access), and everything
// about them as one printable page or JSON file (/client/export). The
// domain (client.BuildRecord, client.ProvedAccessLog, client.Export)
// decides what they see; these pages only show it. Staff pages that show
// case content log the read first (logRead), as the JSON API does.

// clientFileRoutes adds the client's file to mux.
func (s *Server) clientFileRoutes(mux *http.ServeMux) {
	s.clientPage(mux, "GET /client/record", s.handleClientRecord)
	s.clientPage(mux, "GET /client/access", s.handleClientAccess)
	s.clientPage(mux, "GET /client/export", s.handleClientExport)
}

// provers returns the checkpoint signer as the access log's prover, when
// it serves proofs too (*audit.Notary does), or nil.
func (s *Server) provers() client.Prover {
	if p, ok := s.Checkpoints.(client.Prover); ok {
		return p
	}
	return nil
}

// logRead writes the audit event of the actor's read of a case's content
// (client.ReadEvent) before a page shows it: a read that cannot be logged
// fails, so no read goes unlogged.
func (s *Server) logRead(r *http.Request, read client.Read) error {
	f := s.clientFiles()
	if f == nil {
		return countersign.Errorf(countersign.EINTERNAL, "no store logs reads of case content")
	}
	return f.RecordRead(r.Context(), read)
}

// errNoFile answers when the service keeps no client files.
func (s *Server) errNoFile(r *http.Request) error {
	return countersign.Errorf(countersign.ENOTFOUND, "%s", clientMsg(s.clientLang(r), "error.ENOTFOUND"))
}

// clientRecordView is the record page: the entries, the letters.
type clientRecordView struct {
	Record *client.Record
	// Views are the client's own views kept with their entries, by entry.
	Views map[string][]*client.Response
}

// handleClientRecord serves GET /client/record: the signed entries of the
// client's cases shared with them (with who wrote them and how), a notice
// for each withheld one, and their letters.
func (s *Server) handleClientRecord(w http.ResponseWriter, r *http.Request) {
	p := s.newClientPage(r, "record.title")
	p.Nav = "record"
	f := s.clientFiles()
	if f == nil {
		s.clientErrorPage(w, r, s.errNoFile(r))
		return
	}
	rec, err := f.FindClientRecord(s.inPageLanguage(r, p), false)
	if err != nil {
		s.clientErrorPage(w, r, err)
		return
	}
	views, err := s.myAttachedViews(r.Context())
	if err != nil {
		s.clientErrorPage(w, r, err)
		return
	}
	p.Data = clientRecordView{Record: rec, Views: views}
	s.renderClient(w, r, http.StatusOK, "client_record.html", p)
}

// inPageLanguage returns r's context with the principal's language set to
// the page's (the switch wins over the language the worker noted), so the
// domain's words match the page around them.
func (s *Server) inPageLanguage(r *http.Request, p *clientPage) context.Context {
	pr, err := client.PrincipalFrom(r.Context())
	if err != nil {
		return r.Context()
	}
	pr.Language = p.Lang
	return client.NewContext(r.Context(), pr)
}

// accessRow is one read on the access page, with what the proof script
// needs in data attributes.
type accessRow struct {
	client.Access
	// Leaf is the read's canonical encoding, base64; Path the proof's
	// hashes, base64, comma-separated. Both "" without a proof.
	Leaf, Path string
}

// clientAccessView is the access page: the reads, the checkpoint.
type clientAccessView struct {
	Rows       []accessRow
	Checkpoint *client.Checkpoint
	Root       string
}

// handleClientAccess serves GET /client/access: who read the client's
// file, newest first, and the signed checkpoint of the log. The page's
// script (static/client_proof.js) checks each read's inclusion proof
// against the checkpoint's root with WebCrypto and says so beside it.
func (s *Server) handleClientAccess(w http.ResponseWriter, r *http.Request) {
	p := s.newClientPage(r, "access.title")
	p.Nav = "access"
	f := s.clientFiles()
	if f == nil {
		s.clientErrorPage(w, r, s.errNoFile(r))
		return
	}
	l, err := client.ProvedAccessLog(s.inPageLanguage(r, p), f, s.provers(), 0)
	if err != nil {
		s.clientErrorPage(w, r, err)
		return
	}
	v := clientAccessView{Checkpoint: l.Checkpoint}
	if l.Checkpoint != nil {
		v.Root = base64.StdEncoding.EncodeToString(l.Checkpoint.Root)
	}
	for _, a := range l.Entries {
		row := accessRow{Access: a}
		if a.Proof != nil {
			row.Leaf = base64.StdEncoding.EncodeToString(a.Canonical)
			hashes := make([]string, len(a.Proof.Hashes))
			for i, h := range a.Proof.Hashes {
				hashes[i] = base64.StdEncoding.EncodeToString(h)
			}
			row.Path = strings.Join(hashes, ",")
		}
		v.Rows = append(v.Rows, row)
	}
	p.Data = v
	s.renderClient(w, r, http.StatusOK, "client_access.html", p)
}

// handleClientExport serves GET /client/export: everything about the
// client as a printable page, or with ?format=json as a JSON file to keep
// (the bundle of GET /v1/client/export).
func (s *Server) handleClientExport(w http.ResponseWriter, r *http.Request) {
	p := s.newClientPage(r, "export.title")
	f := s.clientFiles()
	if f == nil {
		s.clientErrorPage(w, r, s.errNoFile(r))
		return
	}
	var responses client.ResponseLister
	if rs := s.responses(); rs != nil {
		responses = rs
	} else if rl, ok := f.(client.ResponseLister); ok {
		responses = rl
	}
	b, err := client.Export(s.inPageLanguage(r, p), f, responses, s.provers(), time.Now())
	if err != nil {
		s.clientErrorPage(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if r.URL.Query().Get("format") == "json" {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Disposition", `attachment; filename="my-file.json"`)
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(b)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", b.Language)
	if err := client.RenderBundle(w, b); err != nil {
		s.log().Error("render export", "op", "web.export", "err", err)
	}
}
