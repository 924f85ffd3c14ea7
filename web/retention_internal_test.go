package web

import (
	"testing"

	"github.com/countersign/countersign/casefile"
)

// TestRetentionWords checks that the catalogues name every code the
// retention pages show: a code without a label would show raw.
func TestRetentionWords(t *testing.T) {
	t.Parallel()

	t.Run("NamesEveryReasonRuleStatusAndRole", func(t *testing.T) {
		t.Parallel()
		want := map[string][]string{
			"retention.close.":  casefile.CloseReasons,
			"retention.hold.":   casefile.HoldReasons,
			"retention.erase.":  append(append([]string{}, casefile.ErasureReasons...), "retention_expired"),
			"retention.rule.":   {casefile.RuleRetention, casefile.RuleRequest},
			"retention.status.": {casefile.StatusOpen, casefile.StatusClosed, casefile.StatusErased},
			"erasure.status.":   {casefile.RequestPending, casefile.RequestDone, casefile.RequestWithdrawn},
			"party.role.":       casefile.PartyRoles,
		}
		for prefix, codes := range want {
			for _, c := range codes {
				for _, tag := range langs {
					if !keys[tag.String()][prefix+c] {
						t.Errorf("%s lacks %s%s", tag, prefix, c)
					}
				}
			}
		}
	})

	t.Run("WritesMonthsInWords", func(t *testing.T) {
		t.Parallel()
		for lang, want := range map[string]string{"en": "December 2026", "fr": "décembre 2026"} {
			p := &page{Lang: lang}
			if got := p.Month("2026-12"); got != want {
				t.Errorf("%s: Month(2026-12) = %q, want %q", lang, got, want)
			}
		}
		if got := (&page{Lang: "en"}).Month("soon"); got != "soon" {
			t.Errorf("Month(soon) = %q", got)
		}
	})
}
