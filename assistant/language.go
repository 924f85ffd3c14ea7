package assistant

import "unicode/utf8"

// stopwords are frequent short words that tell the four languages apart.
// Words shared by two languages ("in", "de", "die"…) are left out or kept
// where they are far more frequent in one of them.
var stopwords = map[string][]string{
	"en": {"the", "and", "of", "to", "is", "was", "with", "she", "he", "her", "his", "for", "that", "this", "has", "have", "not", "on", "at", "will", "would", "be", "are", "they", "it", "from", "an", "by", "should", "must"},
	"fr": {"le", "la", "les", "et", "des", "du", "un", "une", "est", "il", "elle", "pas", "que", "qui", "pour", "dans", "sur", "avec", "au", "aux", "ne", "se", "son", "sa", "ses", "a", "ont", "sont", "doit", "cette", "mais", "nous"},
	"nl": {"het", "een", "en", "van", "is", "niet", "zijn", "haar", "hij", "zij", "ze", "met", "voor", "op", "dat", "die", "naar", "heeft", "hebben", "wordt", "ook", "bij", "maar", "moet", "kan", "om", "er", "werd", "geen"},
	"de": {"der", "die", "das", "und", "ist", "nicht", "ein", "eine", "mit", "sie", "er", "zu", "den", "dem", "von", "auf", "fur", "sich", "hat", "haben", "wird", "auch", "bei", "aber", "muss", "kann", "im", "ihr", "ihre", "war", "wurde", "kein"},
}

// DetectLanguage guesses the language of text among Languages by counting
// stopwords, and returns "en" when nothing stands out.
func DetectLanguage(text string) string {
	// The words are the runs of letters a to z of the folded text.
	if !isASCII(text) {
		return detectFolded(foldString(text))
	}
	// Folding ASCII only lowers its capitals and collapses its white
	// space, which leaves the runs of letters where they are: each run is
	// lowered into word, and the text is not copied.
	var scores [4]int // by index into Languages, which has four
	var word [16]byte // no stopword is longer (TestDetectLanguageReadsASCIIAsFolded)
	for i, j := range runs(text, isASCIILetter) {
		if j-i <= len(word) {
			for k := i; k < j; k++ {
				word[k-i] = text[k] | 0x20 // lower case
			}
			for _, l := range stopwordLanguages[string(word[:j-i])] {
				scores[l]++
			}
		}
	}
	return bestLanguage(scores)
}

// detectFolded is DetectLanguage of folded text f.
func detectFolded(f string) string {
	var scores [4]int
	for i, j := range runs(f, isLowerASCII) {
		for _, l := range stopwordLanguages[f[i:j]] {
			scores[l]++
		}
	}
	return bestLanguage(scores)
}

// bestLanguage is the language of Languages with the highest score, "en"
// when none scored.
func bestLanguage(scores [4]int) string {
	best, bestScore := "en", 0
	for l, lang := range Languages { // fixed order keeps ties deterministic
		if scores[l] > bestScore {
			best, bestScore = lang, scores[l]
		}
	}
	return best
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// stopwordLanguages is stopwords by word: the indexes into Languages of
// the languages that list it, once for each time a language lists it.
var stopwordLanguages = func() map[string][]int {
	out := map[string][]int{}
	for l, lang := range Languages {
		for _, w := range stopwords[lang] {
			out[w] = append(out[w], l)
		}
	}
	return out
}()

// languageName names a language in English, for prompts.
func languageName(lang string) string {
	switch lang {
	case "fr":
		return "French"
	case "nl":
		return "Dutch"
	case "de":
		return "German"
	}
	return "English"
}

// isLowerASCII says whether b is a lower-case ASCII letter.
func isLowerASCII(b byte) bool { return 'a' <= b && b <= 'z' }
