// Package metrics holds the Prometheus series an operator watches, beyond
// the HTTP histogram the API keeps itself: the model calls, the rate limits,
// the audit sequencer, client sign-ins and reminders (counters that the code
// doing the work increments), and a collector that reads the drafting queue,
// the review queues, the audit backlog and the newest checkpoint from the
// store on each scrape.
//
// The counters are package variables so that any package can count without
// being handed a registry; Register adds them (and the same collector values
// may be registered with several registries, one per test server). Every
// series has a unit in its name and help text; labels carry codes and ids,
// never names or case text. deploy/prometheus/alerts.yml and
// deploy/grafana/countersign.json name these series, and a test scrapes a
// running service to check that every series they name exists.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Model call outcomes and error kinds, the values of the "outcome" and
// "kind" labels. Append only: dashboards and alerts name them.
const (
	OutcomeOK    = "ok"
	OutcomeError = "error"

	KindRateLimited  = "rate_limited" // 429 from the endpoint
	KindServer       = "server"       // 5xx, 408 or 409
	KindTimeout      = "timeout"      // no answer in time
	KindConnection   = "connection"   // refused, reset, DNS, TLS
	KindUnreadable   = "unreadable"   // a 2xx whose body did not decode
	KindRejected     = "rejected"     // another 4xx: our request was refused
	KindCredentials  = "credentials"  // 401 or 403
	KindNotFound     = "not_found"    // the model or deployment is unknown
	KindBreakerOpen  = "breaker_open" // failed fast: the circuit breaker is open
	KindCancelled    = "cancelled"    // the draft was cancelled (shutdown, lease lost)
	KindOutputSchema = "output"       // the answer broke the output schema
)

// ErrorKinds lists every kind, shown at 0 from the start so that a rate()
// over them works before the first failure.
var ErrorKinds = []string{KindRateLimited, KindServer, KindTimeout, KindConnection, KindUnreadable, KindRejected,
	KindCredentials, KindNotFound, KindBreakerOpen, KindCancelled, KindOutputSchema}

// Rate limit names, the values of countersign_rate_limited_requests_total's "limit".
const (
	LimitRequests = "requests" // requests per token, user or address
	LimitSignIns  = "signins"  // failed sign-ins per address
)

var (
	// ModelCallSeconds is the latency of each model call as the drafter
	// sees it, every retry and backoff included, by outcome.
	ModelCallSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "countersign_model_call_duration_seconds",
		Help:    "Duration of a model call in seconds, retries and backoff included, by outcome (ok, error).",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160},
	}, []string{"outcome"})
	// ModelErrors counts failed model calls by kind (Kind* constants).
	ModelErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "countersign_model_errors_total",
		Help: "Model calls that failed after their retries, by kind (rate_limited, server, timeout, connection, unreadable, rejected, credentials, not_found, breaker_open, cancelled, output).",
	}, []string{"kind"})
	// ModelRetries counts attempts repeated after a temporary failure.
	ModelRetries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "countersign_model_retries_total",
		Help: "Model call attempts repeated after a temporary failure, by the kind of that failure.",
	}, []string{"kind"})
	// ModelTokens counts the tokens the endpoint reported, in (prompt)
	// and out (completion).
	ModelTokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "countersign_model_tokens_total",
		Help: "Tokens the model endpoint reported using, by direction: in (prompt) and out (completion).",
	}, []string{"direction"})

	// RateLimited counts requests refused with 429, by limit.
	RateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "countersign_rate_limited_requests_total",
		Help: "Requests refused with 429 Too Many Requests, by limit: requests (per token, user or address) or signins (failed sign-ins per address).",
	}, []string{"limit"})

	// SequencerBatchEvents is the size of each batch the audit sequencer
	// moved from pending into the log.
	SequencerBatchEvents = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "countersign_audit_sequencer_batch_events",
		Help:    "Audit events moved into the log per sequencer batch (refused ones included).",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512},
	})

	// ClientSignIns counts sign-ins to the client's own file by outcome
	// ("ok" or "refused"), through either door: serve hands both the
	// accounts store wrapped to call ClientSignIn (cmd/countersign/observe.go).
	ClientSignIns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "countersign_client_signins_total",
		Help: "Sign-ins of clients to their own file, by outcome: ok, or refused (a wrong, used or expired code).",
	}, []string{"outcome"})

	// RemindersDue counts agenda reminders that came due and became
	// in-app notifications; RemindersSent those also e-mailed (with an
	// SMTP server configured). The reminder loop (sqlstore.RunReminders)
	// increments them.
	RemindersDue = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "countersign_reminders_due_total",
		Help: "Agenda reminders that came due and were delivered as in-app notifications.",
	})
	RemindersSent = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "countersign_reminders_sent_total",
		Help: "Agenda reminders also sent by e-mail through the configured SMTP server.",
	})
)

func init() {
	for _, o := range []string{OutcomeOK, OutcomeError} {
		ModelCallSeconds.WithLabelValues(o)
	}
	for _, k := range ErrorKinds {
		ModelErrors.WithLabelValues(k)
		ModelRetries.WithLabelValues(k)
	}
	for _, d := range []string{"in", "out"} {
		ModelTokens.WithLabelValues(d)
	}
	for _, l := range []string{LimitRequests, LimitSignIns} {
		RateLimited.WithLabelValues(l)
	}
	for _, o := range []string{"ok", "refused"} {
		ClientSignIns.WithLabelValues(o)
	}
}

// Register adds every series of this package to reg. The same series may be
// registered with several registries.
func Register(reg prometheus.Registerer) {
	reg.MustRegister(ModelCallSeconds, ModelErrors, ModelRetries, ModelTokens,
		RateLimited, SequencerBatchEvents, ClientSignIns, RemindersDue, RemindersSent)
}

// ClientSignIn counts a client's sign-in: ok true for one that succeeded.
func ClientSignIn(ok bool) {
	if ok {
		ClientSignIns.WithLabelValues("ok").Inc()
	} else {
		ClientSignIns.WithLabelValues("refused").Inc()
	}
}

// SequencedBatch records one sequencer batch of n events; 0 is not a batch.
func SequencedBatch(n int) {
	if n > 0 {
		SequencerBatchEvents.Observe(float64(n))
	}
}

// Breaker returns the gauge countersign_model_breaker_open, read from
// healthy on each scrape: 1 while the model client's circuit breaker is
// open, 0 while it is closed. healthy nil (the offline drafter) is always 0.
func Breaker(healthy func() bool) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "countersign_model_breaker_open",
		Help: "1 while the model client's circuit breaker is open and drafts fail fast, 0 while it is closed (always 0 for the offline drafter).",
	}, func() float64 {
		if healthy == nil || healthy() {
			return 0
		}
		return 1
	})
}
