// Package api is Countersign's JSON API: the routes under /v1, the
// health, readiness, metrics and OpenAPI endpoints, authentication by bearer
// token, and RFC 9457 problem+json errors. The web interface is package web;
// the two share only internal/httpx and the domain packages.
package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/agenda"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/identity"
	"github.com/countersign/countersign/internal/httpx"
	"github.com/countersign/countersign/review"
)

// Server serves the HTTP interface. It holds domain interfaces, never a
// concrete store.
type Server struct {
	Identity identity.Store
	Cases    casefile.Store
	Review   review.Store
	Audit    audit.Log
	// Clients keeps the client's accounts, invitations and sessions: the
	// client's own door (/v1/client, api/client_auth.go). Nil disables it.
	Clients client.Accounts
	// Files reads the client's own file (record, access log) and logs
	// every staff read of case content before it is returned
	// (api/client_record.go); nil means Cases, when it serves them too.
	Files client.FileStore
	// Responses lists a client's responses for their export; nil means
	// Cases, when it serves them too, else the export lists none.
	Responses client.ResponseLister
	// Agenda keeps the agenda, notifications and calendar feeds
	// (api/agenda.go); nil answers those endpoints 404.
	Agenda agenda.Store
	// Retention closes and reopens cases, keeps legal holds and erasure
	// requests (api/retention.go); nil means Cases, when it serves them
	// too, else those endpoints answer 404.
	Retention casefile.RetentionStore
	// AuditProofs serves checkpoints and proofs; nil disables those endpoints.
	AuditProofs AuditProofs
	// Export writes the NDJSON export consistent with cp.
	Export func(ctx context.Context, w io.Writer, cp *audit.Checkpoint) error
	Logger *slog.Logger
	// StatsRealIDs shows workers by their user ids in /v1/audit/stats
	// instead of pseudonyms (COUNTERSIGN_STATS_REAL_IDS=true).
	StatsRealIDs bool

	// DraftQueued is called after a draft is queued, to wake the drafting workers.
	DraftQueued func(draftID string)
	// DraftWatch, which the drafting workers signal, lets GET
	// /v1/drafts/{id} wait for a draft being generated (Prefer: wait,
	// api/draft_wait.go); nil answers at once, as without the header.
	DraftWatch *review.Watch
	// Checks are run by /readyz; each names a dependency ("database", "model").
	Checks map[string]func(context.Context) error

	// MaxBodyBytes bounds request bodies (413 above it).
	MaxBodyBytes int64
	// Limits bound the requests of each token (by its id), of each client
	// address without one, and the failed sign-ins of each client address;
	// nil means no limit. The web interface shares them.
	Limits *httpx.Limits

	Registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	handler http.Handler
}

// AuditProofs serves signed checkpoints and proofs; *audit.Notary is the real one.
type AuditProofs interface {
	// Checkpoint returns the latest signed checkpoint, signing a new one
	// first if the log grew.
	Checkpoint(ctx context.Context) (*audit.Checkpoint, error)
	InclusionProof(ctx context.Context, index, size uint64) (*audit.Inclusion, error)
	ConsistencyProof(ctx context.Context, from, to uint64) (*audit.Consistency, error)
}

// NewServer builds the route table. Set the fields before calling Handler.
func NewServer() *Server {
	s := &Server{Logger: slog.Default(), MaxBodyBytes: 256 << 10, Registry: prometheus.NewRegistry(), Checks: map[string]func(context.Context) error{}}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "countersign_http_requests_total", Help: "HTTP requests by route and status."}, []string{"route", "status"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "countersign_http_request_seconds", Help: "HTTP request latency by route.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"route"})
	s.Registry.MustRegister(s.requests, s.latency, prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return s
}

// Handler returns the JSON API alone, with its middleware. The service
// itself serves the web interface on the same mux: see Routes and Middleware.
func (s *Server) Handler() http.Handler {
	if s.handler != nil {
		return s.handler
	}
	mux := http.NewServeMux()
	s.Routes(mux)
	s.handler = s.Middleware(mux)
	return s.handler
}

// Routes adds the JSON API's routes to mux: /v1, the health and readiness
// probes, the metrics and the OpenAPI document. The web interface adds its
// own (web.Server.Routes) to the same mux.
func (s *Server) Routes(mux *http.ServeMux) {
	public := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.anonymous(h)) }
	authed := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.authenticate(h)) }

	// Probes and scrapers are never limited: they must never be refused.
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("GET /readyz", s.handleReady)
	public("GET /openapi.json", s.handleOpenAPI)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{}))

	authed("GET /v1/me", s.handleMe)
	authed("GET /v1/cases", s.handleCaseList)
	authed("POST /v1/cases", s.handleCaseCreate)
	authed("GET /v1/cases/{id}", s.handleCaseGet)
	authed("POST /v1/cases/{id}/parties", s.handlePartyCreate)
	authed("GET /v1/cases/{id}/parties", s.handlePartyList)
	authed("POST /v1/cases/{id}/notes", s.handleNoteCreate)
	authed("GET /v1/cases/{id}/notes", s.handleNoteList)
	authed("POST /v1/cases/{id}/drafts", s.handleDraftCreate)
	authed("GET /v1/cases/{id}/consent", s.handleConsentGet)
	authed("POST /v1/cases/{id}/consent", s.handleConsentRecord)
	authed("GET /v1/cases/{id}/record", s.handleRecord)
	authed("GET /v1/drafts/{id}", s.handleDraftGet)
	authed("POST /v1/drafts/{id}/approve", s.handleDraftApprove)
	authed("POST /v1/drafts/{id}/reject", s.handleDraftReject)
	authed("POST /v1/drafts/{id}/countersign", s.handleDraftCountersign)
	authed("POST /v1/drafts/{id}/reassign", s.handleDraftReassign)
	authed("POST /v1/drafts/{id}/retry", s.handleDraftRetry)
	authed("POST /v1/cases/{id}/record/{entry}/correct", s.handleRecordCorrect)
	authed("POST /v1/cases/{id}/record/{entry}/countersign", s.handleCorrectionCountersign)
	authed("POST /v1/cases/{id}/record/{entry}/refuse", s.handleCorrectionRefuse)
	authed("GET /v1/review/queue", s.handleQueue)
	authed("GET /v1/audit/entries", s.handleAuditEntries)
	authed("GET /v1/audit/entries/{seq}", s.handleAuditEntry)
	authed("GET /v1/audit/export", s.handleAuditExport)
	authed("GET /v1/audit/checkpoint", s.handleAuditCheckpoint)
	authed("GET /v1/audit/proof/inclusion", s.handleInclusionProof)
	authed("GET /v1/audit/proof/consistency", s.handleConsistencyProof)
	authed("GET /v1/audit/tile/{level}/{index...}", s.handleAuditTile)
	authed("GET /v1/audit/stats", s.handleAuditStats)
	s.clientRoutes(mux)
	s.clientFileRoutes(mux)
	s.clientResponseRoutes(mux)

	s.agendaRoutes(mux)
	s.caseloadRoutes(mux)
	s.retentionRoutes(mux)

	public("/v1/", func(w http.ResponseWriter, r *http.Request) { s.handleNoRoute(mux, w, r) })
}

// handleNoRoute answers what no /v1 route serves: 405 with Allow when the
// path is known with other methods, else 404; problem+json either way.
func (s *Server) handleNoRoute(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) {
	if allow := httpx.Allowed(mux, r, "/v1/"); len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		Error(w, r, countersign.Errorf(countersign.EMETHOD, "This endpoint does not accept %s; it accepts %s.", r.Method, strings.Join(allow, ", ")))
		return
	}
	Error(w, r, countersign.Errorf(countersign.ENOTFOUND, "There is no such endpoint."))
}

// Middleware wraps h, the mux of both the API and the web interface, in what
// every response of the service goes through: metrics per route and panic
// recovery, and the security headers. Rate limits are per route (Routes).
func (s *Server) Middleware(h http.Handler) http.Handler {
	return s.observe(httpx.SecurityHeaders(h))
}

// authenticate resolves the bearer token into the actor of the request,
// and limits the request by the token's id. A missing token is limited
// per client address; a wrong one counts as a failed sign-in of it.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return s.bearer(bearerDoor{
		realm:   "countersign",
		missing: "Sign in first: send your token as 'Authorization: Bearer <token>'.",
		resolve: func(ctx context.Context, secret string) (string, context.Context, error) {
			t, u, err := s.Identity.Authenticate(ctx, secret)
			if err != nil {
				return "", nil, err
			}
			return t.ID, countersign.NewContextWithActor(ctx, u.Actor()), nil
		},
	}, next)
}

// requireRole refuses actors whose role is not in roles.
func requireRole(r *http.Request, roles ...countersign.Role) (countersign.Actor, error) {
	return httpx.RequireRole(r, roles...)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func logger(r *http.Request) *slog.Logger { return httpx.Logger(r) }

// observe records metrics per route and recovers from panics as a 500
// without leaking the panic to the client. It logs no query strings or
// bodies: they may hold personal data.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		r = r.WithContext(httpx.WithLogger(r.Context(), s.Logger))
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Logger.Error("panic serving request", "route", r.Pattern, "panic", v)
				if sw.status == 0 {
					Error(sw, r, countersign.Errorf(countersign.EINTERNAL, "Internal error."))
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			s.requests.WithLabelValues(route, itoa(sw.status)).Inc()
			s.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(sw, r)
	})
}

func itoa(n int) string {
	if n == 0 {
		n = http.StatusOK
	}
	return strconv.Itoa(n)
}
