package web

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/identity"
	"github.com/countersign/countersign/internal/httpx"
)

// The ethics board's page: the audit trail with filters, statistics drawn
// as server-made SVG bar charts, the signed checkpoint and a button that
// verifies the log. It shows identifiers, hashes and decision facts, which
// is all the log holds: never a note or a draft.

// auditPageSize is how many events one page of the trail shows.
const auditPageSize = 100

// auditActions lists the actions of the filter, in the order of the lifecycle.
var auditActions = []string{
	audit.ActionDraftRequested, audit.ActionDraftClaimed, audit.ActionDraftGenerated, audit.ActionDraftFailed,
	audit.ActionDraftRetry, audit.ActionDraftRequeued, audit.ActionDraftOpened, audit.ActionDraftApproved, audit.ActionDraftRejected,
	audit.ActionDraftCountersign, audit.ActionDraftReassigned, audit.ActionDraftSuperseded, audit.ActionRecordSigned,
	audit.ActionRecordCorrected, audit.ActionCaseCreated, audit.ActionPartyAdded, audit.ActionNoteAdded,
	audit.ActionConsentRecorded, audit.ActionConsentWithdrawn, audit.ActionUserCreated, audit.ActionTeamCreated,
	audit.ActionTokenCreated, audit.ActionTokenRevoked, identity.ActionUserDisabled, identity.ActionSessionStarted,
	identity.ActionSessionEnded, identity.ActionSessionsPurged, audit.ActionCheckpointSigned,
	casefile.ActionCaseClosed, casefile.ActionCaseReopened, casefile.ActionHoldSet, casefile.ActionHoldLifted,
	casefile.ActionErasureRequested, casefile.ActionCaseErased, casefile.ActionPartyErased,
}

type auditFilterForm struct {
	Case, Actor, Action, Since, Until string
}

type auditView struct {
	Filter     auditFilterForm
	Actions    []string
	Events     []eventRow
	NextURL    string
	PrevURL    string
	Stats      *statsView
	Checkpoint *checkpointView
	Verify     *verifyView
	CanVerify  bool
	// Stalled says the log could not be brought up to date for the page
	// (pageCheckpoint): a stored tile stops the sequencer.
	Stalled bool
	// Board links the figures of erasures and holds (web/retention.go).
	Board bool
	// ActorHint is the actor filter's example: a pseudonym where staff
	// are shown by pseudonyms, otherwise a user id.
	ActorHint string
}

type eventRow struct {
	*audit.Event
	Payload []string // "key=value", sorted
}

type checkpointView struct {
	Origin string
	Size   uint64
	Root   string
	Note   string
}

type verifyView struct {
	OK       bool
	Events   uint64
	Size     uint64
	Root     string
	Problem  string
	FirstBad string
	// Tiles is how many stored tiles, which proofs are served from, were
	// held against the events (the CLI prints it too): 0 when none were.
	Tiles uint64
	Took  time.Duration
	// checkpoint is the one the log was verified against (the report's),
	// which the page shows when it cannot sign one of its own.
	checkpoint *audit.Checkpoint
}

// handleAudit serves GET /audit.
func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) {
	s.renderAudit(w, r, s.newPage(r, "audit.title"), nil)
}

// handleVerify serves POST /audit/verify: the log is verified on the
// server, against a checkpoint signed now, and the result shown in words.
func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request) {
	if err := s.requireRole(r, httpx.AuditRoles...); err != nil {
		s.errorPage(w, r, err)
		return
	}
	if s.VerifyLog == nil {
		s.errorPage(w, r, s.errorf(r, countersign.ENOTFOUND, "verify.disabled"))
		return
	}
	start := time.Now()
	rep, err := s.VerifyLog(r.Context())
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	v := &verifyView{OK: rep.OK, Events: rep.Events, Size: rep.CheckpointSize, Root: base64.StdEncoding.EncodeToString(rep.Root),
		Problem: rep.Problem, Tiles: rep.Tiles, Took: time.Since(start).Round(time.Millisecond), checkpoint: rep.Checkpoint}
	if rep.FirstBad != nil {
		v.FirstBad = strconv.FormatUint(*rep.FirstBad, 10)
	}
	s.renderAudit(w, r, s.newPage(r, "audit.title"), v)
}

func (s *Server) renderAudit(w http.ResponseWriter, r *http.Request, p *page, verified *verifyView) {
	if err := s.requireRole(r, httpx.AuditRoles...); err != nil {
		s.errorPage(w, r, err)
		return
	}
	ctx := r.Context()
	p.Nav = "audit"
	q := r.URL.Query()
	v := auditView{Actions: auditActions, Verify: verified, CanVerify: s.VerifyLog != nil, Board: s.retention() != nil,
		Filter: auditFilterForm{Case: strings.TrimSpace(q.Get("case")), Actor: strings.TrimSpace(q.Get("actor")),
			Action: q.Get("action"), Since: q.Get("since"), Until: q.Get("until")}}
	var f audit.EventFilter
	status := http.StatusOK
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	staff, err := s.staff()
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	v.ActorHint = "usr_…"
	if staff.pseudonymous() {
		v.ActorHint = "w_…"
	}
	f.CaseID, f.Action = opt(v.Filter.Case), opt(v.Filter.Action)
	if v.Filter.Actor != "" {
		id, ok, err := s.actorFilter(ctx, staff, v.Filter.Actor)
		if err != nil {
			s.errorPage(w, r, err)
			return
		}
		if !ok {
			p.Fields["actor"] = p.T("audit.pseudonymonly")
		}
		f.ActorID = &id
	}
	day := func(field, value string, next bool) *time.Time {
		if value == "" {
			return nil
		}
		t, err := time.ParseInLocation("2006-01-02", value, time.Local)
		if err != nil {
			p.Fields[field] = p.T("audit.baddate")
			return nil
		}
		if next {
			t = t.AddDate(0, 0, 1) // "until" includes the whole day
		}
		return &t
	}
	f.Since, f.Until = day("since", v.Filter.Since, false), day("until", v.Filter.Until, true)
	f.Limit = auditPageSize
	if len(p.Fields) > 0 {
		p.Error = p.T("audit.badfilter")
		status = http.StatusUnprocessableEntity
	}
	cp, stalled, err := s.pageCheckpoint(ctx, verified)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	// A failed verdict beside it says more than the notice would.
	v.Stalled = stalled && (verified == nil || verified.OK)
	var size uint64
	if cp != nil {
		size = cp.Size
		v.Checkpoint = &checkpointView{Origin: cp.Origin, Size: cp.Size, Root: base64.StdEncoding.EncodeToString(cp.Root), Note: string(cp.Note)}
	}
	// from is the first entry shown. Without filters the page opens on the
	// latest entries; with filters, on the first that match.
	var from uint64
	if n, err := strconv.ParseUint(q.Get("from"), 10, 64); err == nil {
		from = n
	} else if f.CaseID == nil && f.ActorID == nil && f.Action == nil && f.Since == nil && f.Until == nil && size > auditPageSize {
		from = size - auditPageSize
	}
	if from > 0 {
		after := from - 1
		f.After = &after
	}
	if status != http.StatusOK {
		p.Data = v
		s.render(w, r, status, "audit.html", p)
		return
	}
	events, err := s.Audit.FindEvents(ctx, f)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	for _, e := range events {
		e = staff.event(e)
		row := eventRow{Event: e}
		for k, val := range e.Payload {
			row.Payload = append(row.Payload, k+"="+val)
		}
		sort.Strings(row.Payload)
		v.Events = append(v.Events, row)
	}
	page := func(n uint64) string {
		nq := url.Values{}
		for k, val := range q {
			nq[k] = val
		}
		nq.Set("from", strconv.FormatUint(n, 10))
		return "/audit?" + nq.Encode()
	}
	if len(events) == auditPageSize {
		v.NextURL = page(events[len(events)-1].Seq + 1)
	}
	if from > 0 {
		v.PrevURL = page(from - min(from, auditPageSize))
	}
	if v.Stats, err = s.statsView(ctx, p, staff, f.Since, f.Until); err != nil {
		s.errorPage(w, r, err)
		return
	}
	p.Data = v
	s.render(w, r, status, "audit.html", p)
}

// pageCheckpoint is the checkpoint the ethics page shows: signed now
// (signedNow), or, when bringing the log up to date fails because the
// sequencer met a stored tile it cannot continue, the one at hand, and
// stalled true. That damage is a finding for "Verify the log", not a
// reason to keep the board from the page and its button: the page shows
// the log as sequenced. The fallback is taken when the sequencer's error
// says a stored tile differs from the events or is missing or short
// (audit.ErrTileDiffers), or when the verification shown beside it found
// the log at fault; its checkpoint is then the one the verification read,
// otherwise the latest stored. Any other error is the page's.
func (s *Server) pageCheckpoint(ctx context.Context, verified *verifyView) (*audit.Checkpoint, bool, error) {
	cp, err := s.signedNow(ctx)
	if err == nil {
		return cp, false, nil
	}
	failed := verified != nil && !verified.OK
	if !failed && !errors.Is(err, audit.ErrTileDiffers) {
		return nil, false, err
	}
	s.log().Warn("audit page shows the log as sequenced: it could not be brought up to date", "op", "web.audit",
		"verification_failed", failed, "err", err)
	if failed {
		return verified.checkpoint, true, nil
	}
	cp, err = s.latestCheckpoint(ctx)
	return cp, true, err
}

// latestCheckpoint returns the largest stored checkpoint, without
// sequencing or signing, when the log's store keeps them (sqlstore's
// does); nil when it does not or none was signed yet.
func (s *Server) latestCheckpoint(ctx context.Context) (*audit.Checkpoint, error) {
	st, ok := s.Audit.(interface {
		LatestCheckpoint(ctx context.Context) (*audit.Checkpoint, error)
	})
	if !ok || s.Checkpoints == nil {
		return nil, nil
	}
	cp, err := st.LatestCheckpoint(ctx)
	if countersign.ErrorCode(err) == countersign.ENOTFOUND {
		return nil, nil
	}
	return cp, err
}

// signedNow sequences the log and returns the checkpoint the page shows,
// signed now if the log grew (nil without Checkpoints).
func (s *Server) signedNow(ctx context.Context) (*audit.Checkpoint, error) {
	if _, err := s.Audit.Sequence(ctx); err != nil {
		return nil, err
	}
	if s.Checkpoints == nil {
		return nil, nil
	}
	return s.Checkpoints.Checkpoint(ctx)
}

// statsView are the statistics of the ethics page: audit.Stats (the figures
// of GET /v1/audit/stats) laid out as bar charts and a table by reviewer.
type statsView struct {
	Events       uint64
	Pseudonymous bool
	Charts       []*barChart
	Workers      []workerStat
}

type workerStat struct {
	Name      string
	Approved  uint64
	Rejected  uint64
	Edited    uint64
	Fast      uint64
	EditShare float64
}

// barChart is a horizontal bar chart laid out for an inline SVG.
type barChart struct {
	ID     string
	Title  string // catalogue key
	Bars   []bar
	Height int
}

type bar struct {
	Label   string
	Value   float64
	Display string
	Y       int
	W       float64
	TextX   float64
}

const (
	// Each row is a label on its own line with the bar below it, so long
	// labels (French ones especially) never overlap or get cut.
	chartBarWidth = 380
	chartRow      = 42
)

func newChart(id, title string, labels []string, values []float64, display func(float64) string) *barChart {
	c := &barChart{ID: id, Title: title}
	maxV := 0.0
	for _, v := range values {
		maxV = max(maxV, v)
	}
	for i, l := range labels {
		b := bar{Label: l, Value: values[i], Display: display(values[i]), Y: i * chartRow}
		if maxV > 0 {
			b.W = float64(chartBarWidth) * values[i] / maxV
		}
		b.TextX = b.W + 6
		c.Bars = append(c.Bars, b)
	}
	c.Height = max(len(c.Bars)*chartRow, chartRow)
	return c
}

// statsFor computes the statistics of the period: by the store when it
// can stream them itself, otherwise by paging through the log. Workers are
// shown as staff are on the whole page (staffView), as the statistics API
// shows them.
func (s *Server) statsFor(ctx context.Context, staff *staffView, since, until *time.Time) (*audit.Stats, error) {
	return httpx.AuditStats(ctx, s.Audit, audit.StatsOptions{Since: since, Until: until, Worker: staff.show})
}

// statsView draws the statistics of the period as charts.
func (s *Server) statsView(ctx context.Context, p *page, staff *staffView, since, until *time.Time) (*statsView, error) {
	st, err := s.statsFor(ctx, staff, since, until)
	if err != nil {
		return nil, err
	}
	out := &statsView{Events: st.Events, Pseudonymous: st.Pseudonymous}
	count := func(v float64) string { return strconv.Itoa(int(v)) }
	pct := func(v float64) string { return fmt.Sprintf("%.0f %%", v) }
	t := st.Total

	out.Charts = append(out.Charts, newChart("decisions", "stats.decisions",
		[]string{p.T("stats.requested"), p.T("stats.generated"), p.T("stats.failed"), p.T("stats.unchanged"), p.T("stats.edited"),
			p.T("stats.rejectedn"), p.T("stats.countersigned"), p.T("stats.fastn")},
		[]float64{float64(t.Requested), float64(t.Generated), float64(t.Failed), float64(t.ApprovedUnchanged), float64(t.ApprovedEdited),
			float64(t.Rejected), float64(t.Countersigned), float64(t.FastSignOffs)}, count))

	type sums struct{ unchanged, edited, rejected, fast uint64 }
	by := func(dim func(*audit.Group) string) ([]string, map[string]*sums) {
		m := map[string]*sums{}
		for _, g := range st.Groups {
			k := dim(g)
			if k == "" {
				continue
			}
			if m[k] == nil {
				m[k] = &sums{}
			}
			m[k].unchanged += g.ApprovedUnchanged
			m[k].edited += g.ApprovedEdited
			m[k].rejected += g.Rejected
			m[k].fast += g.FastSignOffs
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return keys, m
	}
	kinds, byKind := by(func(g *audit.Group) string { return g.Kind })
	var kindLabels []string
	var editRate, fastRate, rejectRate []float64
	for _, k := range kinds {
		x := byKind[k]
		kindLabels = append(kindLabels, p.Label("kind.", k))
		editRate = append(editRate, share(x.edited, x.edited+x.unchanged))
		fastRate = append(fastRate, share(x.fast, x.edited+x.unchanged))
		rejectRate = append(rejectRate, share(x.rejected, x.edited+x.unchanged+x.rejected))
	}
	out.Charts = append(out.Charts,
		newChart("editrate", "stats.editrate", kindLabels, editRate, pct),
		newChart("rejectrate", "stats.rejectrate", kindLabels, rejectRate, pct),
		newChart("fast", "stats.fast", kindLabels, fastRate, pct))

	reasons := make([]string, 0, len(t.RejectedByReason))
	for k := range t.RejectedByReason {
		reasons = append(reasons, k)
	}
	sort.Strings(reasons)
	var reasonLabels []string
	var rv []float64
	for _, k := range reasons {
		reasonLabels = append(reasonLabels, p.Label("reason.", k))
		rv = append(rv, float64(t.RejectedByReason[k]))
	}
	out.Charts = append(out.Charts, newChart("reasons", "stats.reasons", reasonLabels, rv, count))

	var rt []float64
	for _, n := range t.ReviewTime {
		rt = append(rt, float64(n))
	}
	out.Charts = append(out.Charts, newChart("reviewtime", "stats.reviewtime", bucketWords(p, st.ReviewTimeBuckets), rt, count))

	models, byModel := by(func(g *audit.Group) string { return g.Model })
	var mEdit []float64
	for _, m := range models {
		x := byModel[m]
		mEdit = append(mEdit, share(x.edited, x.edited+x.unchanged))
	}
	out.Charts = append(out.Charts, newChart("models", "stats.models", models, mEdit, pct))

	workers, byWorker := by(func(g *audit.Group) string { return g.Worker })
	nm := s.names(ctx)
	for _, w := range workers {
		x := byWorker[w]
		name := w
		if !st.Pseudonymous {
			name = nm.of(w)
		}
		out.Workers = append(out.Workers, workerStat{Name: name, Approved: x.unchanged + x.edited, Rejected: x.rejected,
			Edited: x.edited, Fast: x.fast, EditShare: share(x.edited, x.edited+x.unchanged) / 100})
	}
	return out, nil
}

// bucketWords turns the statistics' bucket labels, "le_5s" and "gt_15m0s",
// into words: "up to 5 seconds", "over 15 minutes".
func bucketWords(p *page, labels []string) []string {
	out := make([]string, len(labels))
	for i, l := range labels {
		out[i] = l
		for prefix, key := range map[string]string{"le_": "duration.upto", "gt_": "duration.over"} {
			if v, ok := strings.CutPrefix(l, prefix); ok {
				if d, err := time.ParseDuration(v); err == nil {
					out[i] = p.T(key, p.Duration(d))
				}
			}
		}
	}
	return out
}

func share(n, of uint64) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}
