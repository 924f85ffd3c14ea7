package review

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/countersign/countersign/agenda"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/caseload"
)

// Policy holds the sign-off rules an authority configures: which drafts
// need a supervisor's countersignature, which kinds of draft are disabled
// for which case types, how fast a reviewer may read, how long a draft may
// wait, and whether vigilance checks run. Its methods are pure rules; the
// zero value is not useful, start from DefaultPolicy.
type Policy struct {
	// CountersignKinds lists the draft kinds that always need a
	// supervisor's countersignature.
	CountersignKinds []assistant.Kind `json:"countersign_kinds"`
	// CountersignOnRisk requires a countersignature when the draft flags a
	// risk: a statement of category risk or safeguarding, or a risk item.
	CountersignOnRisk bool `json:"countersign_on_risk"`
	// CaseTypes are the case types a case may have; they enter the audit
	// log, so each is a code (casefile.ValidCaseTypeCode), never free text.
	CaseTypes []string `json:"case_types"`
	// DisabledKinds maps a case type to the draft kinds that may not be
	// requested for it (some authorities forbid AI drafting of capacity
	// assessments, for example).
	DisabledKinds map[string][]assistant.Kind `json:"disabled_kinds"`
	// ReadingSpeed is in words per minute: a sign-off faster than reading
	// the draft at this speed is marked fast for the ethics board.
	ReadingSpeed int `json:"reading_speed_wpm"`
	// MaxWait is how long a draft may wait for a decision before it counts
	// as overdue in the supervisors' queue.
	MaxWait time.Duration `json:"max_wait"`
	// Vigilance switches vigilance checks on; VigilanceRate is the share of
	// generated drafts that get one known-false statement (0 to 1).
	Vigilance     bool    `json:"vigilance"`
	VigilanceRate float64 `json:"vigilance_rate"`
	// Agenda holds the reminder offsets of each kind of agenda entry (the
	// agenda: section; agenda.DefaultPolicy when left out).
	Agenda agenda.Policy `json:"agenda"`
	// Retention says how long each case type is kept after closure (the
	// retention: section; casefile.ParseRetention; nothing is erased by the
	// retention job when left out). Versioned by a digest of its rules.
	Retention casefile.RetentionPolicy `json:"retention"`
	// Caseload holds the caseload policy: case-type weights, the activity
	// window, the reference band per post, working times (the caseload:
	// section; caseload.DefaultPolicy when left out).
	Caseload caseload.Policy `json:"caseload"`
}

// DefaultPolicy is the policy used when none is configured: the case types
// of casefile.DefaultCaseTypes, the case's worker signs alone, nothing is disabled, 400 words per minute, drafts are
// overdue after three days, no vigilance checks.
func DefaultPolicy() *Policy {
	return &Policy{CaseTypes: slices.Clone(casefile.DefaultCaseTypes), ReadingSpeed: ReadingSpeed, MaxWait: 72 * time.Hour, VigilanceRate: 0.05,
		Agenda: agenda.DefaultPolicy(), Retention: casefile.DefaultRetention(), Caseload: caseload.DefaultPolicy()}
}

// NeedsCountersign reports whether d needs a supervisor's countersignature
// after its reviewer approves it. The flags are read from the draft as
// generated: a reviewer removing a risk statement does not lift the need,
// since that removal is exactly what a second signer should see.
func (p *Policy) NeedsCountersign(d *Draft) bool {
	return p.NeedsCountersignFlagged(d.Kind, FlagsRisk(d.Content))
}

// NeedsCountersignFlagged is NeedsCountersign for a draft of kind whose
// content as generated flags a risk or not (FlagsRisk): the review queue
// lists drafts without their content and decides from the flag its
// completion stored.
func (p *Policy) NeedsCountersignFlagged(kind assistant.Kind, flagsRisk bool) bool {
	return slices.Contains(p.CountersignKinds, kind) || p.CountersignOnRisk && flagsRisk
}

// FlagsRisk reports whether c holds a statement or an item of category
// risk or safeguarding, or a risk item. The categories are the service's
// own reading joined with the model's (assistant.Drafter), so a model that
// labels nothing does not lift the countersignature.
func FlagsRisk(c *assistant.Content) bool {
	if c == nil {
		return false
	}
	risk := func(category string) bool {
		return category == assistant.CategoryRisk || category == assistant.CategorySafeguarding
	}
	for _, s := range c.Statements {
		if risk(s.Category) {
			return true
		}
	}
	for _, it := range c.Items {
		if it.Type == assistant.ItemRisk || risk(it.Category) {
			return true
		}
	}
	return false
}

// KindAllowed reports whether drafts of kind may be requested for cases of caseType.
func (p *Policy) KindAllowed(caseType string, kind assistant.Kind) bool {
	return !slices.Contains(p.DisabledKinds[caseType], kind)
}

// FastSignOff reports whether a review of ms milliseconds was too short to
// read text at the policy's reading speed.
func (p *Policy) FastSignOff(text string, ms int64) bool {
	wpm := p.ReadingSpeed
	if wpm <= 0 {
		wpm = ReadingSpeed
	}
	needed := int64(len(strings.Fields(text))) * 60_000 / int64(wpm)
	return ms < needed
}

// OverdueBefore returns the creation time before which a draft still
// waiting at now is overdue.
func (p *Policy) OverdueBefore(now time.Time) time.Time {
	return now.Add(-p.MaxWait)
}

// Overdue reports whether d, still waiting for a decision at now, has waited
// longer than the policy allows.
func (p *Policy) Overdue(d *Draft, now time.Time) bool {
	return (d.Status == StatusPendingReview || d.Status == StatusAwaitingCountersign) && d.CreatedAt.Before(p.OverdueBefore(now))
}

// VigilanceDue reports whether a newly generated draft gets a vigilance
// check, given a random number r drawn uniformly from [0, 1).
func (p *Policy) VigilanceDue(r float64) bool {
	return p.Vigilance && r < p.VigilanceRate
}

// PolicyError is a mistake in a policy file: the file, the field at fault
// and a sentence saying what is wrong.
type PolicyError struct {
	Path    string
	Field   string
	Message string
}

// Error implements the error interface.
func (e *PolicyError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("policy %s: %s", e.Path, e.Message)
	}
	return fmt.Sprintf("policy %s: %s: %s", e.Path, e.Field, e.Message)
}

// policyFile is the file format: YAML, or JSON (which YAML reads as well).
type policyFile struct {
	Countersign *struct {
		Kinds  []string `yaml:"kinds"`
		OnRisk bool     `yaml:"on_risk"`
	} `yaml:"countersign"`
	CaseTypes     []string            `yaml:"case_types"`
	DisabledKinds map[string][]string `yaml:"disabled_kinds"`
	ReadingSpeed  *int                `yaml:"reading_speed_wpm"`
	MaxWait       *string             `yaml:"max_wait"`
	Vigilance     *struct {
		Enabled bool     `yaml:"enabled"`
		Rate    *float64 `yaml:"rate"`
	} `yaml:"vigilance"`
	Agenda *struct {
		Reminders map[string][]string `yaml:"reminders"`
	} `yaml:"agenda"`
	Retention map[string]any `yaml:"retention"`
	Caseload  *caseload.File `yaml:"caseload"`
}

// LoadPolicy reads and validates the policy file at path; an empty path
// gives DefaultPolicy. Errors are *PolicyError values naming the field.
func LoadPolicy(path string) (*Policy, error) {
	if path == "" {
		return DefaultPolicy(), nil
	}
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, &PolicyError{Path: path, Message: "the file cannot be read: " + errors.Unwrap(err).Error()}
	}
	return ParsePolicy(path, buf)
}

// ParsePolicy parses and validates a policy document; path names it in errors.
// Fields left out keep their DefaultPolicy values. Unknown fields are refused,
// so that a misspelt rule is never silently ignored.
func ParsePolicy(path string, data []byte) (*Policy, error) {
	p := DefaultPolicy()
	if len(bytes.TrimSpace(data)) == 0 {
		return p, nil
	}
	var f policyFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, &PolicyError{Path: path, Message: yamlMessage(err)}
	}
	bad := func(field, format string, args ...any) error {
		return &PolicyError{Path: path, Field: field, Message: fmt.Sprintf(format, args...)}
	}
	kinds := func(field string, names []string) ([]assistant.Kind, error) {
		out := make([]assistant.Kind, 0, len(names))
		for i, n := range names {
			k := assistant.Kind(n)
			if !k.Valid() {
				return nil, bad(fmt.Sprintf("%s[%d]", field, i), "%q is not a draft kind; choose %s or %s.", n, assistant.KindSummary, assistant.KindSuggestions)
			}
			out = append(out, k)
		}
		return out, nil
	}
	if c := f.Countersign; c != nil {
		ks, err := kinds("countersign.kinds", c.Kinds)
		if err != nil {
			return nil, err
		}
		p.CountersignKinds, p.CountersignOnRisk = ks, c.OnRisk
	}
	if f.CaseTypes != nil {
		if len(f.CaseTypes) == 0 {
			return nil, bad("case_types", "list at least one case type, such as %s.", casefile.GeneralCaseType)
		}
		for i, t := range f.CaseTypes {
			if !casefile.ValidCaseTypeCode(t) {
				return nil, bad(fmt.Sprintf("case_types[%d]", i), "%q is not a case type code: use lower-case letters, digits and underscores, such as adult_social_care.", t)
			}
			if slices.Contains(f.CaseTypes[:i], t) {
				return nil, bad(fmt.Sprintf("case_types[%d]", i), "%q is listed twice.", t)
			}
		}
		p.CaseTypes = f.CaseTypes
	}
	if len(f.DisabledKinds) > 0 {
		p.DisabledKinds = map[string][]assistant.Kind{}
		for caseType, names := range f.DisabledKinds {
			if strings.TrimSpace(caseType) == "" {
				return nil, bad("disabled_kinds", "a case type must not be empty.")
			}
			ks, err := kinds("disabled_kinds."+caseType, names)
			if err != nil {
				return nil, err
			}
			if !slices.Contains(p.CaseTypes, caseType) {
				return nil, bad("disabled_kinds."+caseType, "%q is not one of the case types (case_types): %s.", caseType, strings.Join(p.CaseTypes, ", "))
			}
			p.DisabledKinds[caseType] = ks
		}
	}
	if v := f.ReadingSpeed; v != nil {
		if *v < 50 || *v > 5000 {
			return nil, bad("reading_speed_wpm", "give a reading speed between 50 and 5000 words per minute, not %d.", *v)
		}
		p.ReadingSpeed = *v
	}
	if v := f.MaxWait; v != nil {
		d, err := time.ParseDuration(*v)
		if err != nil || d <= 0 {
			return nil, bad("max_wait", "give a positive duration such as 48h or 90m, not %q.", *v)
		}
		p.MaxWait = d
	}
	if v := f.Vigilance; v != nil {
		p.Vigilance = v.Enabled
		if v.Rate != nil {
			if math.IsNaN(*v.Rate) || *v.Rate <= 0 || *v.Rate > 1 {
				return nil, bad("vigilance.rate", "give a share of drafts greater than 0 and at most 1, such as 0.05, not %v.", *v.Rate)
			}
			p.VigilanceRate = *v.Rate
		}
	}
	if v := f.Agenda; v != nil {
		ap, field, err := agenda.ParsePolicy(v.Reminders)
		if err != nil {
			return nil, bad(field, "%v.", err)
		}
		p.Agenda = ap
	}
	if f.Caseload != nil {
		cp, field, err := caseload.ParsePolicy(f.Caseload, p.CaseTypes)
		if err != nil {
			return nil, bad(field, "%v.", err)
		}
		p.Caseload = cp
	}
	if f.Retention != nil {
		rp, field, err := casefile.ParseRetention(f.Retention, p.CaseTypes)
		if err != nil {
			return nil, bad(field, "%v.", err)
		}
		p.Retention = rp
	}
	return p, nil
}

// yamlMessage turns a yaml.v3 error into a sentence, keeping its line numbers.
func yamlMessage(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, m := range te.Errors {
			m = strings.Replace(m, "in type review.policyFile", "", 1)
			m = strings.Replace(m, "not found", "is not a known setting", 1)
			msgs[i] = strings.TrimSpace(m)
		}
		return strings.Join(msgs, "; ") + "."
	}
	return "the file is not valid YAML or JSON: " + strings.TrimPrefix(err.Error(), "yaml: ") + "."
}
