package client

import (
	"context"
	"embed"
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign/casefile"
)

// The bundle as a readable page (GET /v1/client/export with Accept:
// text/html or ?format=html, and the client's page /client/export): plain
// HTML that prints well and reads without the service, in the client's
// language. It is written here, beside the bundle, so both doors give the
// same page.

//go:embed export.html
var exportFS embed.FS

var exportPage = template.Must(template.New("export.html").Funcs(template.FuncMap{
	"date": Date,
	"w":    Words,
	"seq":  func(s *uint64) string { return strconv.FormatUint(*s, 10) },
	"time": Clock,
	"str":  func(v any) string { return toString(v) },
}).ParseFS(exportFS, "export.html"))

func toString(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case ResponseKind:
		return string(s)
	case AnswerOutcome:
		return string(s)
	}
	return ""
}

// RenderBundle writes b as a printable HTML page in its language.
func RenderBundle(w io.Writer, b *Bundle) error {
	return exportPage.Execute(w, b)
}

// Erased is something erased from the client's file (issue 19): a whole
// case, or the client's own details in a case that continues; when, under
// which rule (the end of the retention period, or a request two admins
// agreed to) and which version of the retention policy. Never what was
// erased: that is gone.
type Erased struct {
	CaseID string `json:"case_id"`
	// Scope is "case" (everything written in the case) or "party" (the
	// client's own personal details).
	Scope         string    `json:"scope"`
	ErasedAt      time.Time `json:"erased_at"`
	Rule          string    `json:"rule"`
	ReasonCode    string    `json:"reason_code"`
	PolicyVersion string    `json:"policy_version"`
	// Words says it in plain words in the client's language.
	Words string `json:"words"`
}

// The scopes of Erased.
const (
	ErasedCase  = "case"
	ErasedParty = "party"
)

// ErasureLister reads what was erased (sqlstore's FindErasures): with a
// case and a party, the whole-case erasures of the case and the erasures
// of that party's details.
type ErasureLister interface {
	FindErasures(ctx context.Context, f casefile.ErasureFilter) ([]*casefile.Erasure, error)
}

// ErasedView turns an erasure into what the client reads of it, in lang.
func ErasedView(e *casefile.Erasure, lang string) Erased {
	v := Erased{CaseID: e.CaseID, Scope: ErasedCase, ErasedAt: e.ErasedAt, Rule: e.Rule, ReasonCode: e.ReasonCode, PolicyVersion: e.PolicyVersion}
	if e.PartyID != "" {
		v.Scope = ErasedParty
	}
	rule := Words(lang, "erased.rule."+e.Rule)
	if e.Rule != casefile.RuleRetention && e.Rule != casefile.RuleRequest {
		rule = Words(lang, "erased.rule.other")
	}
	v.Words = strings.Join([]string{Words(lang, "erased."+v.Scope, Date(lang, e.ErasedAt), rule),
		Words(lang, "erased.policy", e.PolicyVersion), Words(lang, "erased.kept")}, " ")
	return v
}

// Erasures returns what was erased from p's file, oldest first, in lang:
// for each of p's cases, its whole-case erasure and the erasures of p's
// own details; never another person's. Each erasure is listed once.
func Erasures(ctx context.Context, l ErasureLister, p Principal, lang string) ([]Erased, error) {
	out := []Erased{}
	seen := map[string]bool{}
	for _, ref := range p.Parties {
		caseID, partyID := ref.CaseID, ref.PartyID
		es, err := l.FindErasures(ctx, casefile.ErasureFilter{CaseID: &caseID, PartyID: &partyID})
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if seen[e.ID] || e.CaseID != caseID || (e.PartyID != "" && e.PartyID != partyID) {
				continue
			}
			seen[e.ID] = true
			out = append(out, ErasedView(e, lang))
		}
	}
	slices.SortStableFunc(out, func(a, b Erased) int { return a.ErasedAt.Compare(b.ErasedAt) })
	return out, nil
}
