package client_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
)

// erasureLister is a fake store: it answers the erasures of the case and
// party asked for, as sqlstore's FindErasures does, and counts the calls.
type erasureLister struct {
	all   []*casefile.Erasure
	calls int
}

func (l *erasureLister) FindErasures(_ context.Context, f casefile.ErasureFilter) ([]*casefile.Erasure, error) {
	l.calls++
	var out []*casefile.Erasure
	for _, e := range l.all {
		if f.CaseID != nil && e.CaseID != *f.CaseID {
			continue
		}
		if f.PartyID != nil && e.PartyID != "" && e.PartyID != *f.PartyID {
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

func TestErased(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	party := &casefile.Erasure{ID: "era1", CaseID: "case1", PartyID: "par1", Rule: casefile.RuleRequest, ReasonCode: "data_subject_request",
		PolicyVersion: "r1-abc", ErasedAt: at}
	whole := &casefile.Erasure{ID: "era2", CaseID: "case1", Rule: casefile.RuleRetention, ReasonCode: "retention_expired",
		PolicyVersion: "r1-def", ErasedAt: at.AddDate(0, 1, 0)}
	someoneElse := &casefile.Erasure{ID: "era3", CaseID: "case1", PartyID: "par2", Rule: casefile.RuleRequest, PolicyVersion: "r1-abc", ErasedAt: at}
	otherCase := &casefile.Erasure{ID: "era4", CaseID: "case9", Rule: casefile.RuleRetention, PolicyVersion: "r1-abc", ErasedAt: at}

	t.Run("ListsTheClientsOwnErasuresOnceOldestFirstAndNoOneElses", func(t *testing.T) {
		t.Parallel()
		l := &erasureLister{all: []*casefile.Erasure{whole, someoneElse, otherCase, party}}
		p := client.Principal{AccountID: "acc1", Parties: []client.PartyRef{{CaseID: "case1", PartyID: "par1"}}}
		got, err := client.Erasures(context.Background(), l, p, "en")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Scope != client.ErasedParty || got[1].Scope != client.ErasedCase {
			t.Fatalf("erased %+v, want the client's details then the case", got)
		}
		if got[0].Rule != casefile.RuleRequest || got[1].Rule != casefile.RuleRetention || got[1].PolicyVersion != "r1-def" {
			t.Errorf("erased %+v", got)
		}
		if !strings.Contains(got[0].Words, "3 December 2026") || !strings.Contains(got[0].Words, "two administrators") ||
			!strings.Contains(got[1].Words, "3 January 2027") || !strings.Contains(got[1].Words, "set time after it is closed") {
			t.Errorf("words %q / %q", got[0].Words, got[1].Words)
		}
	})

	t.Run("SaysItInEveryLanguageOfTheClient", func(t *testing.T) {
		t.Parallel()
		seen := map[string]string{}
		for _, lang := range client.Languages {
			for _, e := range []*casefile.Erasure{party, whole} {
				v := client.ErasedView(e, lang)
				if !strings.Contains(v.Words, client.Date(lang, e.ErasedAt)) || !strings.Contains(v.Words, e.PolicyVersion) {
					t.Errorf("%s: %q lacks the date or the policy version", lang, v.Words)
				}
				if prev, ok := seen[v.Words]; ok {
					t.Errorf("%s says %q as %s does: a missing translation", lang, v.Words, prev)
				}
				seen[v.Words] = lang
			}
			if lang != "en" && client.Words(lang, "export.erased") == client.Words("en", "export.erased") {
				t.Errorf("%s lacks export.erased", lang)
			}
		}
	})

	t.Run("ThePrintablePageListsThem", func(t *testing.T) {
		t.Parallel()
		b := &client.Bundle{Name: "Marie", Language: "fr", Record: &client.Record{Language: "fr"}, AccessLog: &client.AccessLog{},
			Erased: []client.Erased{client.ErasedView(party, "fr")}}
		var page bytes.Buffer
		if err := client.RenderBundle(&page, b); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Ce qui a été effacé de votre dossier", "3 décembre 2026", "r1-abc"} {
			if !strings.Contains(page.String(), want) {
				t.Errorf("the page lacks %q", want)
			}
		}
	})
}
