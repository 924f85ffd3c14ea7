package assistant

// Categorize returns the category the service itself reads in a sentence
// (CategoryRisk, CategorySafeguarding, CategoryCapacity, CategoryHealth),
// or "" for none. It is the service's own reading, from its keyword lists
// in several languages, and never a model's label: the gate does not trust
// what it guards.
func Categorize(sentence string) string { return categoryOf(foldString(sentence)) }

// Sentences splits text into trimmed sentences, each an exact substring of
// text; fragments shorter than a quotable passage are left out.
func Sentences(text string) []string { return sentences(text) }
