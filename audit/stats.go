package audit

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"iter"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Dimensions the statistics can be grouped by. Append only; the names are
// part of the HTTP API and of the CSV header.
const (
	DimKind          = "kind"
	DimModel         = "model"
	DimPromptVersion = "prompt_version"
	DimWorker        = "worker"
)

// Dimensions lists every grouping dimension, in the order of the CSV columns.
var Dimensions = []string{DimKind, DimModel, DimPromptVersion, DimWorker}

// EditRatioBounds are the upper bounds (inclusive) of the edit ratio buckets
// of approved drafts; a last bucket holds everything above the last bound.
// An edit ratio of 0 means the draft was signed as the model wrote it.
var EditRatioBounds = []float64{0, 0.05, 0.10, 0.25, 0.50}

// ReviewBounds are the upper bounds (inclusive) of the review time buckets
// of decided drafts, in milliseconds; a last bucket holds the slower ones.
var ReviewBounds = []int64{5_000, 15_000, 30_000, 60_000, 120_000, 300_000, 900_000}

// StatsOptions selects and shapes the statistics.
type StatsOptions struct {
	// Since and Until bound the events' times: Since <= at < Until. Nil
	// bounds are open.
	Since, Until *time.Time
	// By names the dimensions to group by (see Dimensions); empty means all.
	By []string
	// Worker maps a user id to the id shown in the statistics, usually a
	// pseudonym (see Pseudonymizer); nil shows real user ids.
	Worker func(userID string) string
}

// Stats are the ethics board's figures about drafts and the people who
// review them, computed from the audit log alone: the log holds identifiers,
// codes and numbers, so nothing here can reveal case content.
type Stats struct {
	Since *time.Time `json:"since,omitempty"`
	Until *time.Time `json:"until,omitempty"`
	// By names the dimensions of Groups.
	By []string `json:"by"`
	// Pseudonymous is true when workers are shown by pseudonyms.
	Pseudonymous bool `json:"pseudonymous"`
	// Events is the number of audit events that fell within the bounds.
	Events uint64 `json:"events"`
	// EditRatioBuckets and ReviewTimeBuckets label the buckets of every
	// Counts' EditRatio and ReviewTime, in order.
	EditRatioBuckets  []string `json:"edit_ratio_buckets"`
	ReviewTimeBuckets []string `json:"review_time_buckets"`
	Total             Counts   `json:"total"`
	// Groups are sorted by their dimensions.
	Groups []*Group `json:"groups"`
}

// Group holds the counts of one combination of the grouped dimensions; the
// dimensions not grouped by are empty, and so are those an event did not
// tell (for instance the model of a draft that failed before generation).
type Group struct {
	Kind          string `json:"kind"`
	Model         string `json:"model"`
	PromptVersion string `json:"prompt_version"`
	Worker        string `json:"worker"`
	Counts
}

// Counts are the figures of a group.
type Counts struct {
	Requested         uint64 `json:"requested"`
	Generated         uint64 `json:"generated"`
	Failed            uint64 `json:"failed"`
	Superseded        uint64 `json:"superseded"`
	ApprovedUnchanged uint64 `json:"approved_unchanged"`
	ApprovedEdited    uint64 `json:"approved_edited"`
	Rejected          uint64 `json:"rejected"`
	// RejectedByReason counts rejections by their reason code.
	RejectedByReason map[string]uint64 `json:"rejected_by_reason"`
	// Countersigned and CountersignRefused count the second signer's
	// decisions (refusals by reason code).
	Countersigned      uint64            `json:"countersigned"`
	CountersignRefused map[string]uint64 `json:"countersign_refused"`
	// FastSignOffs counts approvals made faster than the policy allows a
	// careful reading.
	FastSignOffs uint64 `json:"fast_sign_offs"`
	// UngroundedSignedUnchanged counts the statements flagged as not traced
	// to the notes in drafts approved without any edit.
	UngroundedSignedUnchanged uint64 `json:"ungrounded_signed_unchanged"`
	// EditReasons counts the reason codes given for edits, when recorded.
	EditReasons map[string]uint64 `json:"edit_reasons"`
	// Vigilance counts vigilance check outcomes (caught, missed), when recorded.
	Vigilance map[string]uint64 `json:"vigilance"`
	// EditRatio counts approvals per EditRatioBuckets; ReviewTime counts
	// decisions per ReviewTimeBuckets.
	EditRatio  []uint64 `json:"edit_ratio"`
	ReviewTime []uint64 `json:"review_time"`
}

func newCounts() Counts {
	return Counts{
		RejectedByReason: map[string]uint64{}, CountersignRefused: map[string]uint64{},
		EditReasons: map[string]uint64{}, Vigilance: map[string]uint64{},
		EditRatio: make([]uint64, len(EditRatioBounds)+1), ReviewTime: make([]uint64, len(ReviewBounds)+1),
	}
}

// Pseudonymizer returns a Worker function that shows each user id as "w_"
// and the first 16 hex digits of HMAC-SHA256(key, id): stable within a
// deployment, so a board can follow one worker over time, but not
// reversible without the key.
func Pseudonymizer(key []byte) func(string) string {
	return func(id string) string {
		if id == "" {
			return ""
		}
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id))
		return "w_" + hex.EncodeToString(m.Sum(nil)[:8])
	}
}

// actionDraftVigilance is the action of a settled vigilance check (an
// untraceable statement planted to test the reviewer's attention).
const actionDraftVigilance = "draft.vigilance"

// draftFacts is what the aggregator remembers of a draft between its
// events: the facts later events of the same draft do not repeat.
type draftFacts struct {
	kind, model, promptVersion, requester string
	requested                             bool // requested in the window, not yet counted
}

type groupKey struct{ kind, model, promptVersion, worker string }

// Aggregator computes Stats from events added in sequence order. It holds
// one entry per group and per draft still in flight (requested but not yet
// decided, failed or superseded), never the events: memory follows the
// number of open drafts, not the length of the log.
type Aggregator struct {
	opts   StatsOptions
	by     map[string]bool
	stats  *Stats
	groups map[groupKey]*Group
	open   map[string]*draftFacts
	// failed keeps the facts of failed drafts, which a person may queue
	// again (draft.requeued): their next outcome counts in the same group.
	failed map[string]*draftFacts
	names  map[string]string // user id -> shown id
}

// NewAggregator returns an Aggregator for opts. Unknown dimensions in
// opts.By are ignored.
func NewAggregator(opts StatsOptions) *Aggregator {
	a := &Aggregator{opts: opts, by: map[string]bool{}, groups: map[groupKey]*Group{},
		open: map[string]*draftFacts{}, failed: map[string]*draftFacts{}, names: map[string]string{}}
	by := opts.By
	if len(by) == 0 {
		by = Dimensions
	}
	for _, d := range by {
		if slices.Contains(Dimensions, d) {
			a.by[d] = true
		}
	}
	a.stats = &Stats{Since: opts.Since, Until: opts.Until, Pseudonymous: opts.Worker != nil,
		EditRatioBuckets: bucketLabels(EditRatioBounds, func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }),
		ReviewTimeBuckets: bucketLabels(ReviewBounds, func(ms int64) string {
			return (time.Duration(ms) * time.Millisecond).String()
		}),
		Total: newCounts()}
	for _, d := range Dimensions {
		if a.by[d] {
			a.stats.By = append(a.stats.By, d)
		}
	}
	return a
}

func bucketLabels[T any](bounds []T, format func(T) string) []string {
	labels := make([]string, 0, len(bounds)+1)
	for _, b := range bounds {
		labels = append(labels, "le_"+format(b))
	}
	return append(labels, "gt_"+format(bounds[len(bounds)-1]))
}

// Aggregate computes the statistics of events, given in sequence order.
func Aggregate(events iter.Seq[*Event], opts StatsOptions) *Stats {
	a := NewAggregator(opts)
	for e := range events {
		a.Add(e)
	}
	return a.Stats()
}

// Add counts one event. Events outside the options' time bounds and events
// that are not about drafts are skipped.
func (a *Aggregator) Add(e *Event) {
	if (a.opts.Since != nil && e.At.Before(*a.opts.Since)) || (a.opts.Until != nil && !e.At.Before(*a.opts.Until)) {
		return
	}
	a.stats.Events++
	p := e.Payload
	id := e.SubjectID
	switch e.Action {
	case ActionDraftRequested:
		a.open[id] = &draftFacts{kind: p["kind"], requester: e.ActorID, requested: true}
	case ActionDraftGenerated:
		d := a.facts(id)
		d.model, d.promptVersion = p["model"], p["prompt_version"]
		a.flushRequested(d)
		a.count(d.kind, d.model, d.promptVersion, d.requester, func(c *Counts) { c.Generated++ })
	case ActionDraftFailed:
		d := a.facts(id)
		a.flushRequested(d)
		a.count(d.kind, d.model, d.promptVersion, d.requester, func(c *Counts) { c.Failed++ })
		a.failed[id] = d
		delete(a.open, id)
	case ActionDraftRequeued:
		if d, ok := a.failed[id]; ok {
			a.open[id] = d
			delete(a.failed, id)
		} else {
			a.open[id] = &draftFacts{kind: p["kind"]}
		}
	case ActionDraftSuperseded:
		d := a.facts(id)
		a.flushRequested(d)
		a.count(d.kind, d.model, d.promptVersion, d.requester, func(c *Counts) { c.Superseded++ })
		delete(a.open, id)
	case ActionDraftApproved:
		edited := p["edited"] == "true"
		ratio, ratioErr := strconv.ParseFloat(p["edit_ratio"], 64)
		ungrounded, _ := strconv.ParseUint(p["ungrounded"], 10, 64)
		a.count(p["kind"], p["model"], p["prompt_version"], e.ActorID, func(c *Counts) {
			if edited {
				c.ApprovedEdited++
			} else {
				c.ApprovedUnchanged++
				c.UngroundedSignedUnchanged += ungrounded
			}
			if ratioErr == nil {
				c.EditRatio[bucketOf(EditRatioBounds, ratio)]++
			}
			a.reviewTime(c, p)
			if p["fast_sign_off"] == "true" {
				c.FastSignOffs++
			}
			for k, v := range p {
				if code, ok := strings.CutPrefix(k, "reason."); ok {
					n, err := strconv.ParseUint(v, 10, 64)
					if err != nil || n == 0 {
						n = 1
					}
					c.EditReasons[code] += n
				}
			}
		})
		if p["countersign_required"] == "true" {
			d := a.facts(id)
			d.kind, d.model, d.promptVersion = p["kind"], p["model"], p["prompt_version"]
		} else {
			delete(a.open, id)
		}
	case ActionDraftRejected:
		reason := p["reason"]
		if p["stage"] == "countersign" {
			a.count(p["kind"], p["model"], p["prompt_version"], e.ActorID, func(c *Counts) { c.CountersignRefused[reason]++ })
		} else {
			a.count(p["kind"], p["model"], p["prompt_version"], e.ActorID, func(c *Counts) {
				c.Rejected++
				c.RejectedByReason[reason]++
				a.reviewTime(c, p)
			})
		}
		delete(a.open, id)
	case ActionDraftCountersign:
		d := a.open[id]
		model, pv := "", ""
		if d != nil {
			model, pv = d.model, d.promptVersion
		}
		a.count(p["kind"], model, pv, e.ActorID, func(c *Counts) { c.Countersigned++ })
		delete(a.open, id)
	case actionDraftVigilance:
		d := a.open[id]
		model, pv := "", ""
		if d != nil {
			model, pv = d.model, d.promptVersion
		}
		a.count(p["kind"], model, pv, e.ActorID, func(c *Counts) { c.Vigilance[p["outcome"]]++ })
	}
}

// facts returns what is known of draft id, an empty entry when the window
// starts after its request.
func (a *Aggregator) facts(id string) *draftFacts {
	d := a.open[id]
	if d == nil {
		d = &draftFacts{}
		a.open[id] = d
	}
	return d
}

// flushRequested counts a draft's request once its model is known (or
// known never to come), so requests and outcomes share a group.
func (a *Aggregator) flushRequested(d *draftFacts) {
	if d.requested {
		d.requested = false
		a.count(d.kind, d.model, d.promptVersion, d.requester, func(c *Counts) { c.Requested++ })
	}
}

func (a *Aggregator) reviewTime(c *Counts, p Payload) {
	if ms, err := strconv.ParseInt(p["review_ms"], 10, 64); err == nil {
		c.ReviewTime[bucketOf(ReviewBounds, ms)]++
	}
}

func bucketOf[T cmp.Ordered](bounds []T, v T) int {
	for i, b := range bounds {
		if v <= b {
			return i
		}
	}
	return len(bounds)
}

// count applies fn to the total and to the group of the given dimensions.
func (a *Aggregator) count(kind, model, promptVersion, worker string, fn func(*Counts)) {
	fn(&a.stats.Total)
	k := groupKey{}
	if a.by[DimKind] {
		k.kind = kind
	}
	if a.by[DimModel] {
		k.model = model
	}
	if a.by[DimPromptVersion] {
		k.promptVersion = promptVersion
	}
	if a.by[DimWorker] {
		k.worker = a.name(worker)
	}
	g := a.groups[k]
	if g == nil {
		g = &Group{Kind: k.kind, Model: k.model, PromptVersion: k.promptVersion, Worker: k.worker, Counts: newCounts()}
		a.groups[k] = g
	}
	fn(&g.Counts)
}

func (a *Aggregator) name(userID string) string {
	if a.opts.Worker == nil {
		return userID
	}
	n, ok := a.names[userID]
	if !ok {
		n = a.opts.Worker(userID)
		a.names[userID] = n
	}
	return n
}

// Stats returns the statistics of the events added so far. Drafts still
// waiting for their model are counted as requested with an empty model.
func (a *Aggregator) Stats() *Stats {
	for _, id := range slices.Sorted(maps.Keys(a.open)) {
		a.flushRequested(a.open[id])
	}
	a.stats.Groups = make([]*Group, 0, len(a.groups))
	a.stats.Groups = slices.AppendSeq(a.stats.Groups, maps.Values(a.groups))
	slices.SortFunc(a.stats.Groups, func(x, y *Group) int {
		return cmp.Or(cmp.Compare(x.Kind, y.Kind), cmp.Compare(x.Model, y.Model),
			cmp.Compare(x.PromptVersion, y.PromptVersion), cmp.Compare(x.Worker, y.Worker))
	})
	return a.stats
}

// WriteCSV writes s as CSV: a header line, a line "*,*,*,*" with the
// totals, then one line per group. Reason, edit-reason and vigilance
// columns appear for every code seen anywhere, so every line has the same
// columns.
func (s *Stats) WriteCSV(w io.Writer) error {
	rows := append([]*Group{{Kind: "*", Model: "*", PromptVersion: "*", Worker: "*", Counts: s.Total}}, s.Groups...)
	keys := func(get func(*Counts) map[string]uint64) []string {
		set := map[string]bool{}
		for _, g := range rows {
			for k := range get(&g.Counts) {
				set[k] = true
			}
		}
		return slices.Sorted(maps.Keys(set))
	}
	rejected := keys(func(c *Counts) map[string]uint64 { return c.RejectedByReason })
	refused := keys(func(c *Counts) map[string]uint64 { return c.CountersignRefused })
	edits := keys(func(c *Counts) map[string]uint64 { return c.EditReasons })
	vigilance := keys(func(c *Counts) map[string]uint64 { return c.Vigilance })

	header := append(slices.Clone(Dimensions), "requested", "generated", "failed", "superseded", "approved_unchanged",
		"approved_edited", "rejected", "countersigned", "fast_sign_offs", "ungrounded_signed_unchanged")
	prefixed := func(prefix string, names []string) {
		for _, n := range names {
			header = append(header, prefix+n)
		}
	}
	prefixed("rejected_", rejected)
	prefixed("countersign_refused_", refused)
	prefixed("edit_reason_", edits)
	prefixed("vigilance_", vigilance)
	prefixed("edit_ratio_", s.EditRatioBuckets)
	prefixed("review_time_", s.ReviewTimeBuckets)

	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return err
	}
	for _, g := range rows {
		c := &g.Counts
		rec := []string{g.Kind, g.Model, g.PromptVersion, g.Worker}
		for _, n := range []uint64{c.Requested, c.Generated, c.Failed, c.Superseded, c.ApprovedUnchanged,
			c.ApprovedEdited, c.Rejected, c.Countersigned, c.FastSignOffs, c.UngroundedSignedUnchanged} {
			rec = append(rec, strconv.FormatUint(n, 10))
		}
		for _, col := range []struct {
			m     map[string]uint64
			names []string
		}{{c.RejectedByReason, rejected}, {c.CountersignRefused, refused}, {c.EditReasons, edits}, {c.Vigilance, vigilance}} {
			for _, n := range col.names {
				rec = append(rec, strconv.FormatUint(col.m[n], 10))
			}
		}
		for _, n := range slices.Concat(c.EditRatio, c.ReviewTime) {
			rec = append(rec, strconv.FormatUint(n, 10))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write statistics CSV: %w", err)
	}
	return nil
}

// StatsReader computes statistics from a stored log, streaming its events.
type StatsReader interface {
	// AuditStats returns the statistics of the sequenced events within opts' bounds.
	AuditStats(ctx context.Context, opts StatsOptions) (*Stats, error)
}
