package assistant

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/countersign/countersign/internal/textfold"
)

// TestFoldRuneAnswersAsBefore checks that textfold.Rune, which answers
// ASCII and the Latin letters from tables built once, folds every rune of
// the first planes and some invalid ones as decomposing each rune on every
// call did (foldRuneBefore).
func TestFoldRuneAnswersAsBefore(t *testing.T) {
	for r := rune(-2); r < 0x3000; r++ {
		if got, want := textfold.Rune(r), foldRuneBefore(r); got != want {
			t.Errorf("textfold.Rune(%U) = %q, want %q", r, got, want)
		}
	}
	for _, r := range []rune{0xFFFD, 0x1E9E, 0x10FFFF, 0x110000, -1 << 31} {
		if got, want := textfold.Rune(r), foldRuneBefore(r); got != want {
			t.Errorf("textfold.Rune(%U) = %q, want %q", r, got, want)
		}
	}
}

func foldRuneBefore(r rune) string {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return string(r)
	}
	switch r {
	case 'ß', 'ẞ':
		return "ss"
	case 'æ', 'Æ':
		return "ae"
	case 'œ', 'Œ':
		return "oe"
	case 'ø', 'Ø':
		return "o"
	case 'ł', 'Ł':
		return "l"
	case 'đ', 'Đ':
		return "d"
	case 'ı':
		return "i"
	case utf8.RuneError:
		return "\ufffd"
	case '‘', '’', '‚', '‛', '′', '`', '´':
		return "'"
	case '“', '”', '„', '‟', '«', '»', '″':
		return `"`
	case '‐', '‑', '‒', '–', '—', '―', '−':
		return "-"
	case '…':
		return "..."
	case '°', 'º':
		return "o"
	}
	var b strings.Builder
	for _, d := range norm.NFD.String(string(r)) {
		if unicode.Is(unicode.Mn, d) {
			continue
		}
		b.WriteRune(unicode.ToLower(d))
	}
	return b.String()
}
