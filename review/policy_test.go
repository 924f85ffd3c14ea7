package review_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/review"
)

func TestParsePolicy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, doc string
		field     string // "" when the document is valid
		message   string
		check     func(t *testing.T, p *review.Policy)
	}{
		{name: "EmptyIsDefault", doc: "", check: func(t *testing.T, p *review.Policy) {
			if p.ReadingSpeed != 400 || p.MaxWait != 72*time.Hour || p.Vigilance || len(p.CountersignKinds) != 0 {
				t.Fatalf("default policy: %+v", p)
			}
		}},
		{name: "FullYAML", doc: `
countersign:
  kinds: [suggestions]
  on_risk: true
disabled_kinds:
  capacity_assessment: [summary, suggestions]
reading_speed_wpm: 250
max_wait: 36h
vigilance:
  enabled: true
  rate: 0.1
`, check: func(t *testing.T, p *review.Policy) {
			if len(p.CountersignKinds) != 1 || !p.CountersignOnRisk || p.ReadingSpeed != 250 || p.MaxWait != 36*time.Hour ||
				!p.Vigilance || p.VigilanceRate != 0.1 || len(p.DisabledKinds["capacity_assessment"]) != 2 {
				t.Fatalf("policy: %+v", p)
			}
		}},
		{name: "JSON", doc: `{"countersign": {"kinds": ["summary"]}, "max_wait": "90m"}`, check: func(t *testing.T, p *review.Policy) {
			if len(p.CountersignKinds) != 1 || p.MaxWait != 90*time.Minute {
				t.Fatalf("policy: %+v", p)
			}
		}},
		{name: "UnknownKind", doc: "countersign:\n  kinds: [summary, sumary]\n", field: "countersign.kinds[1]", message: `"sumary" is not a draft kind`},
		{name: "UnknownDisabledKind", doc: "disabled_kinds:\n  capacity: [notes]\n", field: "disabled_kinds.capacity[0]", message: "not a draft kind"},
		{name: "SlowReader", doc: "reading_speed_wpm: 10\n", field: "reading_speed_wpm", message: "between 50 and 5000"},
		{name: "BadWait", doc: "max_wait: two days\n", field: "max_wait", message: "positive duration"},
		{name: "NegativeWait", doc: "max_wait: -1h\n", field: "max_wait", message: "positive duration"},
		{name: "RateAboveOne", doc: "vigilance:\n  enabled: true\n  rate: 1.5\n", field: "vigilance.rate", message: "at most 1"},
		{name: "RateZero", doc: "vigilance:\n  rate: 0\n", field: "vigilance.rate", message: "greater than 0"},
		{name: "MisspeltSetting", doc: "max_wiat: 48h\n", message: "line 1: field max_wiat is not a known setting"},
		{name: "WrongType", doc: "reading_speed_wpm: fast\n", message: "line 1"},
		{name: "NotYAML", doc: "countersign: [\n", message: "not valid YAML or JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := review.ParsePolicy("policy.yaml", []byte(tc.doc))
			if tc.check != nil {
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, p)
				return
			}
			var pe *review.PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v, want a *PolicyError", err)
			}
			if pe.Path != "policy.yaml" || pe.Field != tc.field || !strings.Contains(pe.Message, tc.message) {
				t.Fatalf("error %q (field %q), want field %q and %q", pe.Error(), pe.Field, tc.field, tc.message)
			}
		})
	}
}

func TestLoadPolicy(t *testing.T) {
	t.Parallel()
	p, err := review.LoadPolicy("")
	if err != nil || p.ReadingSpeed != review.ReadingSpeed {
		t.Fatalf("no file: %+v, %v", p, err)
	}
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte("reading_speed_wpm: 300\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err = review.LoadPolicy(path)
	if err != nil || p.ReadingSpeed != 300 {
		t.Fatalf("loaded %+v, %v", p, err)
	}
	_, err = review.LoadPolicy(path + ".missing")
	if err == nil || !strings.Contains(err.Error(), "cannot be read") || !strings.Contains(err.Error(), path) {
		t.Fatalf("missing file: %v", err)
	}
}

func draftWith(kind assistant.Kind, categories ...string) *review.Draft {
	c := &assistant.Content{Language: "en"}
	for i, cat := range categories {
		c.Statements = append(c.Statements, assistant.Statement{ID: string(rune('a' + i)), Text: "x", Category: cat})
	}
	return &review.Draft{Kind: kind, Content: c, Status: review.StatusPendingReview}
}

func TestPolicyRules(t *testing.T) {
	t.Parallel()
	p := review.DefaultPolicy()
	p.CountersignKinds = []assistant.Kind{assistant.KindSuggestions}
	p.CountersignOnRisk = true
	p.DisabledKinds = map[string][]assistant.Kind{"capacity": {assistant.KindSummary}}
	for _, tc := range []struct {
		name string
		d    *review.Draft
		want bool
	}{
		{"PlainSummary", draftWith(assistant.KindSummary, "", ""), false},
		{"HealthIsNotARiskFlag", draftWith(assistant.KindSummary, assistant.CategoryHealth), false},
		{"RiskStatement", draftWith(assistant.KindSummary, "", assistant.CategoryRisk), true},
		{"SafeguardingStatement", draftWith(assistant.KindSummary, assistant.CategorySafeguarding), true},
		{"KindListed", draftWith(assistant.KindSuggestions), true},
		{"RiskItem", &review.Draft{Kind: assistant.KindSummary, Content: &assistant.Content{Items: []assistant.Item{{ID: "i1", Type: assistant.ItemRisk}}}}, true},
		{"NoContent", &review.Draft{Kind: assistant.KindSummary}, false},
	} {
		if got := p.NeedsCountersign(tc.d); got != tc.want {
			t.Errorf("%s: NeedsCountersign = %v, want %v", tc.name, got, tc.want)
		}
	}
	off := review.DefaultPolicy()
	if off.NeedsCountersign(draftWith(assistant.KindSuggestions, assistant.CategoryRisk)) {
		t.Error("the default policy asks for a countersignature")
	}
	if p.KindAllowed("capacity", assistant.KindSummary) || !p.KindAllowed("capacity", assistant.KindSuggestions) || !p.KindAllowed("general", assistant.KindSummary) {
		t.Error("KindAllowed ignores the disabled kinds")
	}
	text := strings.Repeat("word ", 400) // one minute at 400 wpm
	for _, tc := range []struct {
		wpm  int
		ms   int64
		fast bool
	}{{400, 59_999, true}, {400, 60_000, false}, {200, 60_000, true}, {800, 30_000, false}} {
		q := review.DefaultPolicy()
		q.ReadingSpeed = tc.wpm
		if got := q.FastSignOff(text, tc.ms); got != tc.fast {
			t.Errorf("%d wpm, %d ms: fast = %v, want %v", tc.wpm, tc.ms, got, tc.fast)
		}
	}
	now := time.Now()
	d := draftWith(assistant.KindSummary)
	d.CreatedAt = now.Add(-73 * time.Hour)
	if !p.Overdue(d, now) {
		t.Error("a draft waiting 73h is not overdue after 72h")
	}
	d.CreatedAt = now.Add(-71 * time.Hour)
	if p.Overdue(d, now) {
		t.Error("a draft waiting 71h is overdue")
	}
	d.Status, d.CreatedAt = review.StatusApproved, now.Add(-100*time.Hour)
	if p.Overdue(d, now) {
		t.Error("a decided draft is overdue")
	}
	v := review.DefaultPolicy()
	if v.VigilanceDue(0) {
		t.Error("vigilance checks run while switched off")
	}
	v.Vigilance, v.VigilanceRate = true, 0.25
	if !v.VigilanceDue(0.24) || v.VigilanceDue(0.25) {
		t.Error("VigilanceDue does not follow the rate")
	}
}

func TestStatusTransitions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		from, to review.Status
		ok       bool
	}{
		{review.StatusPendingReview, review.StatusAwaitingCountersign, true},
		{review.StatusAwaitingCountersign, review.StatusApproved, true},
		{review.StatusAwaitingCountersign, review.StatusRejected, true},
		// A newer draft supersedes only pending drafts (the store's
		// query); a case's closure supersedes one awaiting countersignature too.
		{review.StatusAwaitingCountersign, review.StatusSuperseded, true},
		{review.StatusFailed, review.StatusSuperseded, false},
		{review.StatusAwaitingCountersign, review.StatusPendingReview, false},
		{review.StatusApproved, review.StatusAwaitingCountersign, false},
	} {
		if got := tc.from.CanTransition(tc.to); got != tc.ok {
			t.Errorf("%s -> %s: %v, want %v", tc.from, tc.to, got, tc.ok)
		}
	}
	if review.StatusAwaitingCountersign.Final() || review.StatusAwaitingCountersign.Label() != "awaiting countersign" {
		t.Error("awaiting countersign is final or mislabelled")
	}
}
