// Package caseload answers the staffing questions of a social service from
// its own signed activity: each worker's active cases by type, their
// weighted load per full-time post against the authority's reference band
// (under, within, over), the drafts waiting for them, their overdue hard
// deadlines and how long they take to review AI drafts; a weekly history
// replayed from the audit log; and a recommendation of who should take a
// new case, which a supervisor is free to follow or not.
//
// The package holds the policy, the pure rules and the replay of audit
// events; sqlstore feeds the same rules from its tables, api and web serve
// them, and `countersign caseload` recomputes them from an audit export.
package caseload

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Policy is the caseload section of the authority's policy file: a
// versioned set of case-type weights, the activity window that makes a
// case active, the reference band of weighted load per full-time post,
// and each worker's working time and competence tags.
type Policy struct {
	// Version names this policy in the figures and in the audit events of
	// recommendations and assignments, so a figure can always be traced to
	// the rules that produced it.
	Version string `json:"version"`
	// Weights gives the weight of a case of each type; a type left out
	// weighs 1.
	Weights map[string]float64 `json:"weights"`
	// ActiveDays: a case is active when it was opened, had a note, a
	// signed record entry, or an agenda entry added, changed or closed
	// within this many days.
	ActiveDays int `json:"active_days"`
	// ReviewDays is the window of the median review time.
	ReviewDays int `json:"review_days"`
	// Band is the reference band of weighted load per full-time post.
	Band Band `json:"band"`
	// Workers holds each worker's working time and competence tags, keyed
	// by user id or work email address; a worker left out works full time.
	Workers map[string]WorkerPolicy `json:"workers,omitempty"`
}

// Band is a reference band of weighted load per full-time post.
type Band struct {
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

// WorkerPolicy is one worker's working time (FTE, 1 for full time) and
// competence tags (case types or other codes).
type WorkerPolicy struct {
	FTE  float64  `json:"fte"`
	Tags []string `json:"tags,omitempty"`
}

// DefaultVersion is the version of the policy used when none is configured.
const DefaultVersion = "default"

// DefaultPolicy weighs every case 1, counts a case active for 90 days
// after its last activity, takes the median review time over 90 days, and
// sets an illustrative band of 50 to 75 weighted cases per full-time post
// (the Winterthur study's reduced caseload was about 75); every
// authority should set its own.
func DefaultPolicy() Policy {
	return Policy{Version: DefaultVersion, Weights: map[string]float64{}, ActiveDays: 90, ReviewDays: 90, Band: Band{Min: 50, Max: 75}}
}

// File is the caseload: section of the policy file as written.
type File struct {
	Version    *string                      `yaml:"version"`
	ActiveDays *int                         `yaml:"active_days"`
	ReviewDays *int                         `yaml:"review_days"`
	Band       *struct{ Min, Max *float64 } `yaml:"band"`
	Weights    map[string]float64           `yaml:"weights"`
	Workers    map[string]struct {
		FTE  *float64 `yaml:"fte"`
		Tags []string `yaml:"tags"`
	} `yaml:"workers"`
}

// ParsePolicy validates the caseload: section f against the authority's
// case types; fields left out keep their DefaultPolicy values. It returns
// the field at fault with the error.
func ParsePolicy(f *File, caseTypes []string) (Policy, string, error) {
	p := DefaultPolicy()
	if f == nil {
		return p, "", nil
	}
	if f.Version != nil {
		v := strings.TrimSpace(*f.Version)
		if !validCode(v, 64, true) {
			return Policy{}, "caseload.version", fmt.Errorf("give a short version code of letters, digits, dots, dashes or underscores, such as 2027-1, not %q", *f.Version)
		}
		p.Version = v
	}
	days := func(field string, v *int, dst *int) error {
		if v == nil {
			return nil
		}
		if *v < 1 || *v > 3650 {
			return fmt.Errorf("give a number of days between 1 and 3650, not %d", *v)
		}
		*dst = *v
		return nil
	}
	if err := days("caseload.active_days", f.ActiveDays, &p.ActiveDays); err != nil {
		return Policy{}, "caseload.active_days", err
	}
	if err := days("caseload.review_days", f.ReviewDays, &p.ReviewDays); err != nil {
		return Policy{}, "caseload.review_days", err
	}
	if b := f.Band; b != nil {
		if b.Min == nil || b.Max == nil {
			return Policy{}, "caseload.band", fmt.Errorf("give both min and max, the weighted load per full-time post")
		}
		if bad(*b.Min) || bad(*b.Max) || *b.Min < 0 || *b.Max <= *b.Min {
			return Policy{}, "caseload.band", fmt.Errorf("give a minimum of 0 or more and a maximum above it, not %v to %v", *b.Min, *b.Max)
		}
		p.Band = Band{Min: *b.Min, Max: *b.Max}
	}
	for _, t := range slices.Sorted(maps.Keys(f.Weights)) {
		w := f.Weights[t]
		if !slices.Contains(caseTypes, t) {
			return Policy{}, "caseload.weights." + t, fmt.Errorf("%q is not one of the case types (case_types): %s", t, strings.Join(caseTypes, ", "))
		}
		if bad(w) || w < 0 || w > 100 {
			return Policy{}, "caseload.weights." + t, fmt.Errorf("give a weight between 0 and 100, not %v", w)
		}
		p.Weights[t] = w
	}
	if len(f.Workers) > 0 {
		p.Workers = map[string]WorkerPolicy{}
	}
	for _, k := range slices.Sorted(maps.Keys(f.Workers)) {
		w := f.Workers[k]
		field := "caseload.workers." + k
		if strings.TrimSpace(k) == "" {
			return Policy{}, "caseload.workers", fmt.Errorf("a worker must be named by user id or work email")
		}
		wp := WorkerPolicy{FTE: 1}
		if w.FTE != nil {
			if bad(*w.FTE) || *w.FTE < 0 || *w.FTE > 1.5 {
				return Policy{}, field + ".fte", fmt.Errorf("give the working time as a share of full time between 0 and 1.5, such as 0.8, not %v", *w.FTE)
			}
			wp.FTE = *w.FTE
		}
		for i, tag := range w.Tags {
			if !validCode(tag, 64, false) {
				return Policy{}, fmt.Sprintf("%s.tags[%d]", field, i), fmt.Errorf("%q is not a tag code: use lower-case letters, digits and underscores", tag)
			}
		}
		wp.Tags = slices.Clone(w.Tags)
		p.Workers[strings.ToLower(strings.TrimSpace(k))] = wp
	}
	return p, "", nil
}

func bad(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) }

// validCode reports whether s is a code: lower-case letters, digits and
// underscores (and, with loose, upper-case letters, dots and dashes).
func validCode(s string, max int, loose bool) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
		case loose && (r >= 'A' && r <= 'Z' || r == '.' || r == '-'):
		default:
			return false
		}
	}
	return true
}

// Weight returns the weight of a case of type t.
func (p Policy) Weight(t string) float64 {
	if w, ok := p.Weights[t]; ok {
		return w
	}
	return 1
}

// Worker returns the working time and tags of the worker with id (or
// email, checked second); a worker the policy does not name works full time.
func (p Policy) Worker(id, email string) WorkerPolicy {
	if w, ok := p.Workers[strings.ToLower(id)]; ok {
		return w
	}
	if email != "" {
		if w, ok := p.Workers[strings.ToLower(email)]; ok {
			return w
		}
	}
	return WorkerPolicy{FTE: 1}
}

// ActiveSince returns the earliest activity time that keeps a case
// active at now: a case is active when its latest activity is at or after
// it. The store's query and the replay of the log both compare with it.
func (p Policy) ActiveSince(now time.Time) time.Time {
	return now.Add(-time.Duration(p.ActiveDays) * 24 * time.Hour)
}

// Active reports whether a case whose latest activity was at last is
// active at now.
func (p Policy) Active(last, now time.Time) bool {
	return !last.Before(p.ActiveSince(now)) && !last.After(now)
}

// ReviewsSince returns the start of the window of the median review time.
func (p Policy) ReviewsSince(now time.Time) time.Time {
	return now.Add(-time.Duration(p.ReviewDays) * 24 * time.Hour)
}

// Bands of a load per full-time post. Append only: they enter the log.
const (
	BandUnder  = "under"
	BandWithin = "within"
	BandOver   = "over"
	// BandNoTime is the band of a worker with no working time in the
	// policy (FTE 0): their load cannot be set against a post.
	BandNoTime = "no_working_time"
)

// BandOf places a load per full-time post in the band: under the
// minimum, within (both ends included), or over the maximum.
func (p Policy) BandOf(perFTE float64, fte float64) string {
	switch {
	case fte <= 0:
		return BandNoTime
	case perFTE < p.Band.Min:
		return BandUnder
	case perFTE > p.Band.Max:
		return BandOver
	}
	return BandWithin
}
