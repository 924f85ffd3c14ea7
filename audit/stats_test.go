package audit_test

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/audit"
)

var statsT0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// ev builds a draft event at minute min of statsT0.
func ev(min int, actor, action, draft string, kv ...string) *audit.Event {
	p := audit.Payload{}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i]] = kv[i+1]
	}
	return &audit.Event{At: statsT0.Add(time.Duration(min) * time.Minute), ActorID: actor, Role: "worker",
		Action: action, SubjectType: "draft", SubjectID: draft, CaseID: "c1", Payload: p}
}

func requested(min int, actor, draft, kind string) *audit.Event {
	return ev(min, actor, audit.ActionDraftRequested, draft, "kind", kind, "notes", "n1", "language", "en")
}

func generated(min int, draft, model, pv, ungrounded string) *audit.Event {
	return ev(min, "system", audit.ActionDraftGenerated, draft, "model", model, "provider", "p", "prompt_version", pv, "ungrounded", ungrounded)
}

func approved(min int, actor, draft, kind, model, pv, edited, ratio, ms, fast, ungrounded string, extra ...string) *audit.Event {
	return ev(min, actor, audit.ActionDraftApproved, draft, append([]string{"kind", kind, "model", model, "prompt_version", pv,
		"edited", edited, "edit_ratio", ratio, "review_ms", ms, "fast_sign_off", fast, "ungrounded", ungrounded}, extra...)...)
}

func rejected(min int, actor, draft, kind, model, pv, reason, ms string) *audit.Event {
	return ev(min, actor, audit.ActionDraftRejected, draft, "kind", kind, "model", model, "prompt_version", pv, "reason", reason, "review_ms", ms)
}

// lifecycle is a morning of two workers: five drafts requested, one failed,
// two approved (one unchanged with two ungrounded statements, fast; one
// edited), one rejected, one still waiting for the model.
func lifecycle() []*audit.Event {
	return []*audit.Event{
		ev(0, "u_admin", audit.ActionUserCreated, "u_x"),
		requested(1, "u_ann", "d1", "summary"),
		requested(2, "u_ann", "d2", "summary"),
		requested(3, "u_bob", "d3", "next_steps"),
		requested(4, "u_bob", "d4", "next_steps"),
		requested(5, "u_bob", "d5", "summary"),
		generated(6, "d1", "m1", "summary/v2", "2"),
		generated(7, "d2", "m1", "summary/v2", "0"),
		generated(8, "d3", "m2", "next_steps/v1", "1"),
		ev(9, "system", audit.ActionDraftFailed, "d4", "attempt", "3", "reason_sha256", "ab"),
		approved(10, "u_ann", "d1", "summary", "m1", "summary/v2", "false", "0.0000", "3000", "true", "2"),
		ev(11, "u_ann", "draft.vigilance", "d2", "kind", "summary", "outcome", "caught", "decision", "x"),
		approved(12, "u_ann", "d2", "summary", "m1", "summary/v2", "true", "0.3000", "45000", "false", "0", "reason.wrong_fact", "2", "reason.tone", "1"),
		rejected(13, "u_bob", "d3", "next_steps", "m2", "next_steps/v1", "inaccurate", "20000"),
	}
}

func TestAggregate(t *testing.T) {
	t.Parallel()
	at := func(min int) *time.Time { v := statsT0.Add(time.Duration(min) * time.Minute); return &v }
	type row struct {
		kind, model, pv, worker                                               string
		requested, generated, failed, unchanged, edited, rejected, fast, ungr uint64
	}
	for _, tt := range []struct {
		name   string
		events []*audit.Event
		opts   audit.StatsOptions
		total  row
		groups []row
		check  func(t *testing.T, s *audit.Stats)
	}{
		{
			name: "EmptyLogGivesZeroes", events: nil,
			total: row{},
		},
		{
			name: "GroupsByEveryDimension", events: lifecycle(),
			total: row{requested: 5, generated: 3, failed: 1, unchanged: 1, edited: 1, rejected: 1, fast: 1, ungr: 2},
			groups: []row{
				{kind: "next_steps", model: "", pv: "", worker: "u_bob", requested: 1, failed: 1},
				{kind: "next_steps", model: "m2", pv: "next_steps/v1", worker: "u_bob", requested: 1, generated: 1, rejected: 1},
				{kind: "summary", model: "", pv: "", worker: "u_bob", requested: 1},
				{kind: "summary", model: "m1", pv: "summary/v2", worker: "u_ann", requested: 2, generated: 2, unchanged: 1, edited: 1, fast: 1, ungr: 2},
			},
			check: func(t *testing.T, s *audit.Stats) {
				g := s.Groups[len(s.Groups)-1]
				if g.EditReasons["wrong_fact"] != 2 || g.EditReasons["tone"] != 1 {
					t.Errorf("edit reasons = %v", g.EditReasons)
				}
				if g.Vigilance["caught"] != 1 {
					t.Errorf("vigilance = %v", g.Vigilance)
				}
				// 0 falls in le_0, 0.3 in le_0.5; 3 s in le_5s, 45 s in le_1m0s.
				if !slices.Equal(g.EditRatio, []uint64{1, 0, 0, 0, 1, 0}) {
					t.Errorf("edit ratio buckets = %v (%v)", g.EditRatio, s.EditRatioBuckets)
				}
				if !slices.Equal(g.ReviewTime, []uint64{1, 0, 0, 1, 0, 0, 0, 0}) {
					t.Errorf("review time buckets = %v (%v)", g.ReviewTime, s.ReviewTimeBuckets)
				}
				if s.Total.RejectedByReason["inaccurate"] != 1 {
					t.Errorf("rejected by reason = %v", s.Total.RejectedByReason)
				}
				if s.Events != 14 {
					t.Errorf("events = %d", s.Events)
				}
			},
		},
		{
			name: "GroupsByKindOnly", events: lifecycle(), opts: audit.StatsOptions{By: []string{audit.DimKind}},
			total: row{requested: 5, generated: 3, failed: 1, unchanged: 1, edited: 1, rejected: 1, fast: 1, ungr: 2},
			groups: []row{
				{kind: "next_steps", requested: 2, generated: 1, failed: 1, rejected: 1},
				{kind: "summary", requested: 3, generated: 2, unchanged: 1, edited: 1, fast: 1, ungr: 2},
			},
		},
		{
			name: "SinceAndUntilBoundTheEvents", events: lifecycle(),
			opts: audit.StatsOptions{By: []string{audit.DimKind}, Since: at(6), Until: at(12)},
			// d1 and d3 generated inside the window but requested before it: their
			// kind is unknown to the generation event.
			total: row{generated: 3, failed: 1, unchanged: 1, fast: 1, ungr: 2},
			groups: []row{
				{kind: "", generated: 3, failed: 1},
				{kind: "summary", unchanged: 1, fast: 1, ungr: 2},
			},
		},
		{
			name: "PseudonymsHideWorkers", events: lifecycle(),
			opts:  audit.StatsOptions{By: []string{audit.DimWorker}, Worker: audit.Pseudonymizer([]byte("k"))},
			total: row{requested: 5, generated: 3, failed: 1, unchanged: 1, edited: 1, rejected: 1, fast: 1, ungr: 2},
			check: func(t *testing.T, s *audit.Stats) {
				if !s.Pseudonymous || len(s.Groups) != 2 {
					t.Fatalf("pseudonymous %v, %d groups", s.Pseudonymous, len(s.Groups))
				}
				for _, g := range s.Groups {
					if strings.HasPrefix(g.Worker, "u_") || !strings.HasPrefix(g.Worker, "w_") || len(g.Worker) != 18 {
						t.Errorf("worker shown as %q", g.Worker)
					}
				}
				if audit.Pseudonymizer([]byte("k"))("u_ann") == audit.Pseudonymizer([]byte("other"))("u_ann") {
					t.Error("the pseudonym does not depend on the key")
				}
			},
		},
		{
			name: "CountersignRefusalIsNotARejection",
			events: []*audit.Event{
				requested(1, "u_ann", "d1", "summary"),
				generated(2, "d1", "m1", "v1", "0"),
				approved(3, "u_ann", "d1", "summary", "m1", "v1", "false", "0", "60000", "false", "0", "countersign_required", "true"),
				ev(4, "u_sup", audit.ActionDraftRejected, "d1", "kind", "summary", "model", "m1", "prompt_version", "v1", "reason", "privacy", "stage", "countersign"),
			},
			opts:   audit.StatsOptions{By: []string{audit.DimKind}},
			total:  row{requested: 1, generated: 1, unchanged: 1},
			groups: []row{{kind: "summary", requested: 1, generated: 1, unchanged: 1}},
			check: func(t *testing.T, s *audit.Stats) {
				if s.Total.CountersignRefused["privacy"] != 1 || s.Total.Rejected != 0 {
					t.Errorf("refused %v, rejected %d", s.Total.CountersignRefused, s.Total.Rejected)
				}
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := audit.Aggregate(slices.Values(tt.events), tt.opts)
			toRow := func(g *audit.Group) row {
				c := g.Counts
				return row{g.Kind, g.Model, g.PromptVersion, g.Worker, c.Requested, c.Generated, c.Failed,
					c.ApprovedUnchanged, c.ApprovedEdited, c.Rejected, c.FastSignOffs, c.UngroundedSignedUnchanged}
			}
			if got := toRow(&audit.Group{Counts: s.Total}); got != tt.total {
				t.Errorf("total = %+v\nwant    %+v", got, tt.total)
			}
			if tt.groups != nil {
				var got []row
				for _, g := range s.Groups {
					got = append(got, toRow(g))
				}
				// Groups holding only a vigilance outcome are left to check.
				got = slices.DeleteFunc(got, func(r row) bool { return r == row{kind: r.kind, model: r.model, pv: r.pv, worker: r.worker} })
				if !slices.Equal(got, tt.groups) {
					t.Errorf("groups =\n%+v\nwant\n%+v", got, tt.groups)
				}
			}
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
}

func TestStatsCSVHasOneColumnSetForAllRows(t *testing.T) {
	t.Parallel()
	s := audit.Aggregate(slices.Values(lifecycle()), audit.StatsOptions{})
	var buf bytes.Buffer
	if err := s.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2+len(s.Groups) {
		t.Fatalf("%d lines for %d groups", len(recs), len(s.Groups))
	}
	head := recs[0]
	for _, col := range []string{"kind", "worker", "requested", "approved_unchanged", "rejected_inaccurate", "edit_reason_wrong_fact", "vigilance_caught", "edit_ratio_le_0", "review_time_gt_15m0s"} {
		if !slices.Contains(head, col) {
			t.Errorf("no column %q in %v", col, head)
		}
	}
	total := recs[1]
	if total[0] != "*" || total[slices.Index(head, "requested")] != "5" || total[slices.Index(head, "rejected_inaccurate")] != "1" {
		t.Errorf("totals line %v", total)
	}
}
