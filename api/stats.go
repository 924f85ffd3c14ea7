package api

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/internal/httpx"
)

// pseudonymKeyer is implemented by *audit.Notary: it derives the key that
// turns worker ids into pseudonyms from the log's signing key.
type pseudonymKeyer interface {
	PseudonymKey() ([]byte, error)
}

// handleAuditStats serves GET /v1/audit/stats: the ethics board's figures
// about drafts and their review, as JSON, or as CSV with ?format=csv or
// Accept: text/csv. Filters: since, until (a date or an RFC 3339 time) and
// by (dimensions, comma-separated).
func (s *Server) handleAuditStats(w http.ResponseWriter, r *http.Request) {
	if _, err := requireRole(r, auditRoles...); err != nil {
		Error(w, r, err)
		return
	}
	q := r.URL.Query()
	var opts audit.StatsOptions
	var fields []countersign.FieldError
	opts.Since, opts.Until = queryTime(q, "since", &fields), queryTime(q, "until", &fields)
	if opts.Since != nil && opts.Until != nil && !opts.Since.Before(*opts.Until) {
		fields = append(fields, countersign.FieldError{Field: "until", Message: "The end must come after the start."})
	}
	if v := q.Get("by"); v != "" {
		for d := range strings.SplitSeq(v, ",") {
			if !slices.Contains(audit.Dimensions, d) {
				fields = append(fields, countersign.FieldError{Field: "by", Message: fmt.Sprintf("Group by %s.", strings.Join(audit.Dimensions, ", "))})
				break
			}
			opts.By = append(opts.By, d)
		}
	}
	format := q.Get("format")
	if format == "" && strings.Contains(r.Header.Get("Accept"), "text/csv") {
		format = "csv"
	}
	if format != "" && format != "csv" && format != "json" {
		fields = append(fields, countersign.FieldError{Field: "format", Message: "Choose json or csv."})
	}
	if fields != nil {
		Error(w, r, countersign.InvalidFields("The filters have mistakes.", fields...))
		return
	}
	if !s.StatsRealIDs {
		k, ok := s.AuditProofs.(pseudonymKeyer)
		if !ok {
			Error(w, r, countersign.Errorf(countersign.ENOTFOUND, "Statistics are not enabled on this server."))
			return
		}
		key, err := k.PseudonymKey()
		if err != nil {
			Error(w, r, err)
			return
		}
		opts.Worker = audit.Pseudonymizer(key)
	}
	if err := s.sequence(r); err != nil {
		Error(w, r, err)
		return
	}
	stats, err := s.auditStats(r.Context(), opts)
	if err != nil {
		Error(w, r, err)
		return
	}
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="countersign-audit-stats.csv"`)
		bw := bufio.NewWriter(w)
		if err := stats.WriteCSV(bw); err != nil {
			logger(r).Error("audit stats CSV", "err", err)
			return
		}
		_ = bw.Flush()
		return
	}
	JSON(w, http.StatusOK, stats)
}

// auditStats computes the statistics of opts (see httpx.AuditStats).
func (s *Server) auditStats(ctx context.Context, opts audit.StatsOptions) (*audit.Stats, error) {
	return httpx.AuditStats(ctx, s.Audit, opts)
}
