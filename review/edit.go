package review

import (
	"strings"
	"unicode/utf8"
)

// EditRatio is the share of words changed between the drafted and the final
// text: the word-level edit distance divided by the longer text's word count.
// 0 means unchanged; 1 means rewritten.
func EditRatio(drafted, final string) float64 {
	a, b := strings.Fields(drafted), strings.Fields(final)
	n := max(len(a), len(b))
	if n == 0 {
		return 0
	}
	return float64(wordDistance(a, b)) / float64(n)
}

// wordDistance is the Levenshtein distance over words, in O(len(b)) memory.
func wordDistance(a, b []string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// ReadingSpeed is the default reading speed in words per minute; a sign-off
// faster than reading the draft at the policy's speed is marked fast for the
// ethics board (it is not blocked). See Policy.FastSignOff.
const ReadingSpeed = 400

// FastSignOff reports whether a review of ms milliseconds was too short to
// read text at the default ReadingSpeed; Policy.FastSignOff uses the
// configured speed.
func FastSignOff(text string, ms int64) bool {
	return DefaultPolicy().FastSignOff(text, ms)
}

// MaxContentBytes bounds an edited text.
const MaxContentBytes = 64 << 10

// ValidText reports whether s is acceptable record text: valid UTF-8 with no NUL bytes.
func ValidText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}
