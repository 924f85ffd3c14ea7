// Package httpx holds the few HTTP helpers that the service's two doors
// share: the JSON API (package api) and the web interface (package web).
// Neither door imports the other; both import this package and the domain
// packages. Keep it small: what one door alone needs stays in that door.
package httpx

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
)

// statuses maps each error code to its HTTP status: the one table, for JSON
// problems and HTML error pages alike.
var statuses = map[string]int{
	countersign.EINVALID:      http.StatusUnprocessableEntity,
	countersign.ENOTFOUND:     http.StatusNotFound,
	countersign.ECONFLICT:     http.StatusConflict,
	countersign.EPRECONDITION: http.StatusPreconditionFailed,
	countersign.EUNAUTHORIZED: http.StatusUnauthorized,
	countersign.EFORBIDDEN:    http.StatusForbidden,
	countersign.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	countersign.EUNAVAILABLE:  http.StatusServiceUnavailable,
	countersign.ERATELIMIT:    http.StatusTooManyRequests,
	countersign.EINTERNAL:     http.StatusInternalServerError,
	countersign.EMETHOD:       http.StatusMethodNotAllowed,
}

// Status returns the error code of err and its HTTP status. A code the
// table does not know, like any error that is not a countersign.Error,
// counts as internal.
func Status(err error) (code string, status int) {
	code = countersign.ErrorCode(err)
	status, ok := statuses[code]
	if !ok {
		return countersign.EINTERNAL, http.StatusInternalServerError
	}
	return code, status
}

// Statuses returns a copy of the table, for tests that check every code
// is documented or translated.
func Statuses() map[string]int {
	out := make(map[string]int, len(statuses))
	for c, st := range statuses {
		out[c] = st
	}
	return out
}

// MaxNoteBytes bounds one case note, whichever door it comes through.
const MaxNoteBytes = 32 << 10

// JSON writes v with the given status.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type loggerKey struct{}

// WithLogger returns ctx carrying l, the logger of the request.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// Logger returns the request's logger, set by the metrics middleware, or
// slog's default.
func Logger(r *http.Request) *slog.Logger {
	if l, ok := r.Context().Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// SecurityHeaders sets the headers every response carries: no sniffing, no
// referrer, no framing, and a CSP that allows only the service's own
// script and style files.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		next.ServeHTTP(w, r)
	})
}

// RequireRole returns the request's actor, or EFORBIDDEN when their role is
// not one of roles.
func RequireRole(r *http.Request, roles ...countersign.Role) (countersign.Actor, error) {
	a, _ := countersign.ActorFromContext(r.Context())
	for _, role := range roles {
		if a.Role == role {
			return a, nil
		}
	}
	return a, countersign.Errorf(countersign.EFORBIDDEN, "Your role (%s) does not allow this.", a.Role)
}

// AuditRoles may read the audit log and its statistics. It holds
// identifiers and hashes only, never case content.
var AuditRoles = []countersign.Role{countersign.RoleEthics, countersign.RoleAdmin}

// AuditStats computes the statistics of opts: by the log itself when it can
// stream them (sqlstore reads only the draft events), otherwise by paging
// through it with FindEvents. Either way memory stays flat.
func AuditStats(ctx context.Context, log audit.Log, opts audit.StatsOptions) (*audit.Stats, error) {
	if sr, ok := log.(audit.StatsReader); ok {
		return sr.AuditStats(ctx, opts)
	}
	agg := audit.NewAggregator(opts)
	f := audit.EventFilter{Since: opts.Since, Until: opts.Until, Limit: 1000}
	for {
		events, err := log.FindEvents(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, e := range events {
			agg.Add(e)
		}
		if len(events) < f.Limit {
			return agg.Stats(), nil
		}
		after := events[len(events)-1].Seq
		f.After = &after
	}
}
