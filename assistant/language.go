package assistant

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
	f := foldString(text)
	scores := make([]int, len(Languages))
	for i := 0; i < len(f); {
		if f[i] < 'a' || f[i] > 'z' {
			i++
			continue
		}
		j := i
		for j < len(f) && 'a' <= f[j] && f[j] <= 'z' {
			j++
		}
		for _, l := range stopwordLanguages[f[i:j]] {
			scores[l]++
		}
		i = j
	}
	best, bestScore := "en", 0
	for l, lang := range Languages { // fixed order keeps ties deterministic
		if scores[l] > bestScore {
			best, bestScore = lang, scores[l]
		}
	}
	return best
}

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
