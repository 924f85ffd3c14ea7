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
func fold(text string) folded { return foldText(text, true) }

// foldText is fold, which keeps the offsets only when asked to.
func foldText(text string, offsets bool) folded {
	if !offsets && isFolded(text) {
		return folded{s: text}
	}
	var b strings.Builder
	b.Grow(len(text))
	var f folded
	if offsets {
		f.start, f.end = make([]int, 0, len(text)), make([]int, 0, len(text))
	}
	space := false
	for i, w := 0, 0; i < len(text); i += w {
		if c := text[i]; c < utf8.RuneSelf && c != ' ' && (c < '\t' || c > '\r') {
			// ASCII other than white space: foldRune's answer, without
			// decoding it.
			w = 1
			space = false
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b.WriteByte(c)
			if offsets {
				f.start = append(f.start, i)
				f.end = append(f.end, i+1)
			}
			continue
		}
		var r rune
		// Invalid bytes decode as RuneError of width 1, so offsets stay exact.
		r, w = utf8.DecodeRuneInString(text[i:])
		if unicode.IsSpace(r) {
			if !space && b.Len() > 0 {
				space = true
				b.WriteByte(' ')
				if offsets {
					f.start = append(f.start, i)
					f.end = append(f.end, i+w)
				}
			} else if space && offsets {
				// Stretch the collapsed space over the whole run.
				f.end[len(f.end)-1] = i + w
			}
			continue
		}
		space = false
		out := foldRune(r)
		b.WriteString(out)
		if offsets {
			for range len(out) {
				f.start = append(f.start, i)
				f.end = append(f.end, i+w)
			}
		}
	}
	f.s = b.String()
	return f
}

// isFolded reports whether text is its own folding: ASCII without capitals
// or white space, which foldRune leaves as it is.
func isFolded(text string) bool {
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' || c == ' ' || '\t' <= c && c <= '\r' {
			return false
		}
	}
	return true
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
	return foldText(s, false).s
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
