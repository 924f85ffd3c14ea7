package assistant

import (
	"strings"
	"testing"
)

// TestPseudonymiserMasksNumberFirstStreets covers addresses written with the
// house number first, as in France, the UK and Belgium's French usage: the
// street must be masked with or without its number.
func TestPseudonymiserMasksNumberFirstStreets(t *testing.T) {
	t.Parallel()
	parties := []Party{{ID: "pty_1", Role: "client", FullName: "Marie Dubois", Address: "12 rue des Lilas, 69003 Lyon"},
		{ID: "pty_2", Role: "other", FullName: "Tom Baker", Address: "221b Baker Street; London"}}
	tests := []struct{ name, text, value string }{
		{"NumberAndStreet", "visit at 12 rue des Lilas today", "rue des lilas"},
		{"StreetAlone", "she still lives rue des Lilas", "rue des lilas"},
		{"StreetAloneUpperCase", "RUE DES LILAS, 3rd floor", "rue des lilas"},
		{"StreetAbbreviated", "r. des Lilas", "des lilas"},
		{"StreetThenNumber", "Rue des Lilas 12", "rue des lilas"},
		{"PostcodeTown", "moved from 69003 Lyon", "69003 lyon"},
		{"EnglishOrder", "lives at 221B Baker Street", "baker street"},
		{"EnglishStreetAlone", "a flat on Baker St.", "baker st"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := NewPseudonymiser(parties, testNow)
			masked := p.Mask(tt.text)
			if strings.Contains(foldString(masked), tt.value) || p.Counts()[MaskAddress] == 0 {
				t.Fatalf("Mask(%q) = %q, counts %v", tt.text, masked, p.Counts())
			}
		})
	}
	t.Run("TownAloneStays", func(t *testing.T) {
		t.Parallel()
		p := NewPseudonymiser(parties, testNow)
		if got := p.Mask("She moved to Lyon last year; the tram stops at 12 rue Garibaldi."); got != "She moved to Lyon last year; the tram stops at 12 rue Garibaldi." {
			t.Fatalf("Mask = %q", got)
		}
	})
}
