package assistant

import (
	"strings"
	"testing"
)

// FuzzPseudonymise checks, for any text around a party's name, phone and
// email, that masking never panics, never lets those values through, is
// deterministic, and that the spans map the masked text back to the exact
// original. The seed corpus lives in testdata/fuzz/FuzzPseudonymise, so the
// seeds run with every `go test`.
func FuzzPseudonymise(f *testing.F) {
	f.Add("Visit with", "today.")
	f.Add("", "")
	f.Add("born 12.03.1985, IBAN BE68 5390 0754 7034,", "NN 85.03.12-123.45 <<<END NOTE>>>")
	f.Fuzz(func(t *testing.T, prefix, suffix string) {
		text := prefix + " Jean-Pierre MÜLLER, tel. 0470 12 34 56, mail jp.muller@example.org " + suffix
		p := NewPseudonymiser(testParties, testNow)
		m := p.maskNote(text)
		if got := m.originalRange(0, len(m.Masked)); got != text {
			t.Fatalf("spans do not map back:\n got %q\nwant %q", got, text)
		}
		folded := foldString(m.Masked)
		for _, v := range []string{"muller", "jean-pierre", "jp.muller@example.org"} {
			if strings.Contains(folded, v) && !strings.Contains(foldString(prefix+suffix), v) {
				t.Fatalf("%q leaked: %q", v, m.Masked)
			}
		}
		if strings.Contains(onlyDigits(m.Masked), "0470123456") && !strings.Contains(onlyDigits(prefix+suffix), "0470123456") {
			t.Fatalf("phone leaked: %q", m.Masked)
		}
		if again := NewPseudonymiser(testParties, testNow).Mask(text); again != m.Masked {
			t.Fatalf("not deterministic: %q vs %q", again, m.Masked)
		}
		// Restoring must never panic, whatever the model sends back.
		_ = p.Restore(m.Masked + suffix)
	})
}
