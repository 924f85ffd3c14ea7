package assistant

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/countersign/countersign/internal/textfold"
)

// folded is a text reduced for matching the way people really write: lower
// case, accents removed, typographic quotes and dashes made plain, runs of
// white space collapsed into one space. start and end map every byte of s
// back to the original text, so a match in s can be located in the original.
type folded struct {
	s     string
	start []int // start[i]: offset in the original of the rune that produced s[i]
	end   []int // end[i]: offset in the original just past that rune
}

// fold reduces text for matching; see folded.
func fold(text string) folded {
	var b strings.Builder
	f := folded{start: make([]int, 0, len(text)), end: make([]int, 0, len(text))}
	space := false
	for i, w := 0, 0; i < len(text); i += w {
		var r rune
		// Invalid bytes decode as RuneError of width 1, so offsets stay exact.
		r, w = utf8.DecodeRuneInString(text[i:])
		if unicode.IsSpace(r) {
			if !space && b.Len() > 0 {
				space = true
				b.WriteByte(' ')
				f.start = append(f.start, i)
				f.end = append(f.end, i+w)
			} else if space {
				// Stretch the collapsed space over the whole run.
				f.end[len(f.end)-1] = i + w
			}
			continue
		}
		space = false
		out := foldRune(r)
		b.WriteString(out)
		for range len(out) {
			f.start = append(f.start, i)
			f.end = append(f.end, i+w)
		}
	}
	f.s = b.String()
	return f
}

// span maps the folded range [a, b) to the original text.
func (f folded) span(a, b int) (int, int) {
	if a >= b {
		if a < len(f.start) {
			return f.start[a], f.start[a]
		}
		return 0, 0
	}
	return f.start[a], f.end[b-1]
}

// foldString folds s without keeping the offsets.
func foldString(s string) string {
	return fold(s).s
}

// foldRune folds one rune (textfold.Rune), the one folding the assistant
// and the high-stakes detector share.
func foldRune(r rune) string { return textfold.Rune(r) }

// isWordByte reports whether the byte at s[i] is part of a word; folded
// text is mostly ASCII, and any non-ASCII byte counts as a letter so that
// names in other scripts are not split.
func isWordByte(c byte) bool {
	return c >= 0x80 || c == '_' || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') || ('A' <= c && c <= 'Z')
}

// atWordBoundaries reports whether s[a:b] is not glued to a letter or digit.
func atWordBoundaries(s string, a, b int) bool {
	if a > 0 && isWordByte(s[a-1]) && isWordByte(s[a]) {
		return false
	}
	if b < len(s) && b > 0 && isWordByte(s[b]) && isWordByte(s[b-1]) {
		return false
	}
	return true
}
