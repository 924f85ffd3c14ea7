package client_test

import (
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/review"
)

func TestRecord(t *testing.T) {
	t.Parallel()
	signed := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	p := client.Principal{AccountID: "acc1", Name: "Marie", Language: "en", Parties: []client.PartyRef{{CaseID: "case1", PartyID: "par1"}}}
	staff := map[string]client.Staff{"u1": {Name: "Wendy Worker", Role: "worker"}, "u2": {Name: "Sam Supervisor", Role: "supervisor"}}
	entry := func(id string, mod func(*review.Entry)) *review.Entry {
		e := &review.Entry{ID: id, CaseID: "case1", Kind: "case_summary", Content: "Text " + id, AIDrafted: true,
			SignedBy: "u1", SignedAt: signed, Sharing: review.SharingShared}
		if mod != nil {
			mod(e)
		}
		return e
	}

	t.Run("ShowsSharedEntriesOfOwnCasesWithProvenanceInPlainWords", func(t *testing.T) {
		t.Parallel()
		rec := client.BuildRecord(p, []*review.Entry{
			entry("e1", func(e *review.Entry) { e.Edited = true }),
			entry("e2", func(e *review.Entry) { e.CaseID = "case2" }),
			entry("e3", func(e *review.Entry) { e.AIDrafted = false; e.SignedAt = signed.Add(time.Hour) }),
		}, staff, false)
		if len(rec.Entries) != 2 {
			t.Fatalf("entries %+v: want e1 and e3, never another case's", rec.Entries)
		}
		e1 := rec.Entries[0]
		if !e1.Shared || e1.Content != "Text e1" || e1.Withheld != nil {
			t.Fatalf("e1 %+v", e1)
		}
		want := "Drafted with the help of a computer program, checked, corrected and signed by Wendy Worker on 3 December 2026."
		if e1.Provenance.Words != want {
			t.Fatalf("provenance %q, want %q", e1.Provenance.Words, want)
		}
		if got := rec.Entries[1].Provenance.Words; got != "Written by Wendy Worker on 3 December 2026." {
			t.Fatalf("written: %q", got)
		}
	})

	t.Run("WithheldEntriesShowWhenAndWhyButNeverTheText", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			sharing, reason, want string
		}{
			{review.SharingWithheld, review.WithheldSafeguarding, "safeguarding"},
			{review.SharingWithheld, review.WithheldThirdParty, "third_party"},
			{review.SharingWithheld, review.WithheldLegal, "legal"},
			{review.SharingUndecided, "", "undecided"},
		} {
			rec := client.BuildRecord(p, []*review.Entry{entry("e1", func(e *review.Entry) {
				e.Sharing, e.WithheldReason, e.Correction = tc.sharing, tc.reason, "why corrected"
			})}, staff, false)
			v := rec.Entries[0]
			if v.Shared || v.Content != "" || v.Correction != "" || v.Provenance != nil {
				t.Fatalf("%s: a withheld entry shows %+v", tc.want, v)
			}
			if v.Withheld == nil || v.Withheld.Reason != tc.want || !strings.Contains(v.Withheld.Words, "3 December 2026") {
				t.Fatalf("%s: notice %+v", tc.want, v.Withheld)
			}
		}
	})

	t.Run("CorrectedVersionsOnlyInHistoryAndLettersApart", func(t *testing.T) {
		t.Parallel()
		entries := []*review.Entry{
			entry("e1", func(e *review.Entry) { e.SupersededBy = "e2" }),
			entry("e2", func(e *review.Entry) {
				e.Supersedes, e.AIDrafted, e.SignedBy, e.SignedAt = "e1", false, "u2", signed.Add(24*time.Hour)
			}),
			entry("l1", func(e *review.Entry) { e.Kind = client.KindLetter }),
			entry("p1", func(e *review.Entry) { e.Pending = true }),
		}
		rec := client.BuildRecord(p, entries, staff, false)
		if len(rec.Entries) != 1 || rec.Entries[0].ID != "e2" || len(rec.Letters) != 1 {
			t.Fatalf("in force: %+v letters %+v", rec.Entries, rec.Letters)
		}
		if got := rec.Entries[0].Provenance.Words; !strings.HasPrefix(got, "Corrected by Sam Supervisor on 4 December 2026.") {
			t.Fatalf("correction provenance %q", got)
		}
		all := client.BuildRecord(p, entries, staff, true)
		if len(all.Entries) != 2 || all.Entries[0].SupersededBy != "e2" {
			t.Fatalf("history: %+v", all.Entries)
		}
	})

	t.Run("WordsInTheClientsLanguage", func(t *testing.T) {
		t.Parallel()
		e := entry("e1", func(e *review.Entry) { e.CountersignedBy, e.CountersignedAt = "u2", &signed })
		for lang, want := range map[string]string{
			"fr": "Rédigé avec l'aide d'un programme informatique, vérifié et signé par Wendy Worker le 3 décembre 2026. Signé aussi par Sam Supervisor le 3 décembre 2026.",
			"nl": "Opgesteld met de hulp van een computerprogramma, nagekeken en ondertekend door Wendy Worker op 3 december 2026. Ook ondertekend door Sam Supervisor op 3 december 2026.",
			"de": "Mit Hilfe eines Computerprogramms entworfen, geprüft und unterschrieben von Wendy Worker am 3. Dezember 2026. Auch unterschrieben von Sam Supervisor am 3. Dezember 2026.",
			"xx": "Drafted with the help of a computer program, checked and signed by Wendy Worker on 3 December 2026. Also signed by Sam Supervisor on 3 December 2026.",
		} {
			q := p
			q.Language = lang
			if got := client.BuildRecord(q, []*review.Entry{e}, staff, false).Entries[0].Provenance.Words; got != want {
				t.Errorf("%s: %q\nwant %q", lang, got, want)
			}
		}
	})

	t.Run("EveryWordHasEveryLanguage", func(t *testing.T) {
		t.Parallel()
		for _, key := range []string{"withheld.third_party", "withheld.safeguarding", "withheld.legal", "withheld.undecided", "withheld.ask",
			"read.case", "read.notes", "read.record", "read.draft", "read.export", "role.worker", "role.supervisor", "someone", "month.12"} {
			en := client.Words("en", key)
			for _, lang := range client.Languages[1:] {
				if got := client.Words(lang, key); got == en || got == "" {
					t.Errorf("%s %s: %q is not translated", lang, key, got)
				}
			}
		}
	})
}
