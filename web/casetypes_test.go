package web

import (
	"testing"

	"github.com/countersign/countersign/casefile"
)

// TestEveryDefaultCaseTypeIsNamedInEveryLanguage keeps the web catalogues
// aligned with the case types a case may have by default: each is named in
// every language, never shown as its code.
func TestEveryDefaultCaseTypeIsNamedInEveryLanguage(t *testing.T) {
	t.Parallel()
	if len(keys) < 2 {
		t.Fatalf("%d catalogues loaded", len(keys))
	}
	for lang := range keys {
		for _, ct := range casefile.DefaultCaseTypes {
			if !keys[lang]["casetype."+ct] {
				t.Errorf("the %s catalogue does not name the case type %s (casetype.%s)", lang, ct, ct)
			}
		}
	}
}
