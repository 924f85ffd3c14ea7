// Package textfold folds text for matching: letters lose their accents and
// case, and typographic quotes and dashes become their plain forms. The
// assistant's quote and grounding checks and the high-stakes detector fold
// with the same function, so they read a text alike.
package textfold

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Rune folds one rune: letters lose their accents and case, and the few
// letters that decomposition leaves alone get the spelling people type when
// they lack the key (ß → ss, æ → ae, ø → o…).
func Rune(r rune) string {
	if uint32(r) < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return ascii[r : r+1] // string(r) would allocate
	}
	if uint32(r) < latinEnd {
		return latin[r-utf8.RuneSelf]
	}
	return fold(r)
}

// fold is Rune beyond ASCII.
func fold(r rune) string {
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

// ascii holds the 128 ASCII characters, each at its own offset.
var ascii = func() string {
	b := make([]byte, utf8.RuneSelf)
	for i := range b {
		b[i] = byte(i)
	}
	return string(b)
}()

// latin holds Rune's answers from U+0080 to the end of Latin Extended-B,
// folded once: decomposing a rune allocates.
const latinEnd = 0x250

var latin = func() (t [latinEnd - utf8.RuneSelf]string) {
	for i := range t {
		t[i] = fold(rune(i) + utf8.RuneSelf)
	}
	return t
}()
