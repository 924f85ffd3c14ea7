package metrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Snapshot is what the store says about the work in flight, read on each
// scrape with a few indexed queries (sqlstore.DB.Operations).
type Snapshot struct {
	// Drafts counts the drafts of the drafting job queue by status
	// (queued, generating); the review queues are in Teams.
	Drafts map[string]int
	// OldestRunnable is when the longest-waiting queued draft became
	// runnable (its run_after); zero when none is queued.
	OldestRunnable time.Time
	// Teams are the review queues, one per team with drafts waiting.
	Teams []TeamQueue
	// PendingEvents counts audit events written but not yet sequenced
	// into the log (capped by the store at a bound).
	PendingEvents int
	// OldestPendingAt is when the oldest pending event was written; zero
	// when none waits.
	OldestPendingAt time.Time
	// LogSize is the number of events in the log.
	LogSize int64
	// CheckpointSize and CheckpointAt describe the newest signed
	// checkpoint; CheckpointAt is zero when none has been signed.
	CheckpointSize int64
	CheckpointAt   time.Time
}

// TeamQueue is one team's review queue.
type TeamQueue struct {
	TeamID string
	Depth  int
	Oldest time.Time
}

// DraftStatuses are the statuses the collector always reports, at 0 when
// no draft has them.
var DraftStatuses = []string{"queued", "generating"}

// StoreCollector reads a Snapshot on each scrape, at most once per MinInterval
// (several Prometheus servers scraping share one read), bounded by Timeout.
// When the store does not answer, countersign_store_up is 0 and the other
// series are left out rather than reported stale.
type StoreCollector struct {
	Read        func(ctx context.Context) (*Snapshot, error)
	Now         func() time.Time
	Timeout     time.Duration
	MinInterval time.Duration
	Logger      *slog.Logger

	mu   sync.Mutex
	last *Snapshot
	at   time.Time
}

var (
	descUp = prometheus.NewDesc("countersign_store_up",
		"1 when the store answered the last scrape's queries, 0 when it did not.", nil, nil)
	descDrafts = prometheus.NewDesc("countersign_drafts",
		"Drafts in the drafting job queue, by status: queued (waiting for a worker, or for a retry) and generating; the review queues are countersign_review_queue_depth.", []string{"status"}, nil)
	descOldestQueued = prometheus.NewDesc("countersign_draft_queue_oldest_age_seconds",
		"Seconds the longest-waiting runnable queued draft has waited for a drafting worker; 0 when none waits.", nil, nil)
	descReviewDepth = prometheus.NewDesc("countersign_review_queue_depth",
		"Drafts waiting for a person's decision (pending_review or awaiting_countersign), by team id.", []string{"team"}, nil)
	descReviewOldest = prometheus.NewDesc("countersign_review_queue_oldest_age_seconds",
		"Seconds the oldest draft in a team's review queue has waited since it was requested, by team id.", []string{"team"}, nil)
	descPending = prometheus.NewDesc("countersign_audit_pending_events",
		"Audit events written but not yet sequenced into the log: the sequencer's lag.", nil, nil)
	descPendingAge = prometheus.NewDesc("countersign_audit_pending_oldest_age_seconds",
		"Seconds the oldest pending audit event has waited for the sequencer; 0 when none waits.", nil, nil)
	descLogSize = prometheus.NewDesc("countersign_audit_log_events",
		"Events in the audit log.", nil, nil)
	descCheckpointSize = prometheus.NewDesc("countersign_audit_checkpoint_size_events",
		"Events covered by the newest signed checkpoint.", nil, nil)
	descCheckpointAge = prometheus.NewDesc("countersign_audit_checkpoint_age_seconds",
		"Seconds since the newest checkpoint was signed; absent until one is.", nil, nil)
	descUnsigned = prometheus.NewDesc("countersign_audit_unsigned_events",
		"Events in the log that no signed checkpoint covers yet.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *StoreCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descDrafts, descOldestQueued, descReviewDepth, descReviewOldest,
		descPending, descPendingAge, descLogSize, descCheckpointSize, descCheckpointAge, descUnsigned} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *StoreCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	s, ok := c.snapshot(now())
	if !ok {
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
		return
	}
	t := now()
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1)
	for _, st := range DraftStatuses {
		ch <- prometheus.MustNewConstMetric(descDrafts, prometheus.GaugeValue, float64(s.Drafts[st]), st)
	}
	ch <- prometheus.MustNewConstMetric(descOldestQueued, prometheus.GaugeValue, age(t, s.OldestRunnable))
	for _, q := range s.Teams {
		ch <- prometheus.MustNewConstMetric(descReviewDepth, prometheus.GaugeValue, float64(q.Depth), q.TeamID)
		ch <- prometheus.MustNewConstMetric(descReviewOldest, prometheus.GaugeValue, age(t, q.Oldest), q.TeamID)
	}
	ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(s.PendingEvents))
	ch <- prometheus.MustNewConstMetric(descPendingAge, prometheus.GaugeValue, age(t, s.OldestPendingAt))
	ch <- prometheus.MustNewConstMetric(descLogSize, prometheus.GaugeValue, float64(s.LogSize))
	ch <- prometheus.MustNewConstMetric(descCheckpointSize, prometheus.GaugeValue, float64(s.CheckpointSize))
	ch <- prometheus.MustNewConstMetric(descUnsigned, prometheus.GaugeValue, float64(max(0, s.LogSize-s.CheckpointSize)))
	if !s.CheckpointAt.IsZero() {
		ch <- prometheus.MustNewConstMetric(descCheckpointAge, prometheus.GaugeValue, age(t, s.CheckpointAt))
	}
}

// snapshot returns the last snapshot if it is recent, else reads one.
func (c *StoreCollector) snapshot(now time.Time) (*Snapshot, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last != nil && now.Sub(c.at) < c.MinInterval {
		return c.last, true
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s, err := c.Read(ctx)
	if err != nil {
		if c.Logger != nil {
			c.Logger.Warn("read operational metrics", "op", "metrics.store", "err", err)
		}
		c.last = nil
		return nil, false
	}
	c.last, c.at = s, now
	return s, true
}

func age(now, since time.Time) float64 {
	if since.IsZero() || !now.After(since) {
		return 0
	}
	return now.Sub(since).Seconds()
}
