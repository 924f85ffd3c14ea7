package stakes

// The detector tries every sequence of every rule at every token of a text;
// the lifecycle's profile showed that scan taking about half of the
// service's CPU. A sequence always opens with a word (Parse allows no
// optional word, gap or $ there), so when that word's alternatives are all
// exact words, only the positions where one of them occurs can start a
// match: the index of the text's words gives them. It answers exactly as
// Rule.Match does (TestIndexedMatchAnswersAsMatch).

// textIndex is a text's tokens and, for each word, where it occurs.
type textIndex struct {
	toks []string
	at   map[string][]int
}

func newTextIndex(toks []string) *textIndex {
	x := &textIndex{toks: toks, at: make(map[string][]int, len(toks))}
	for i, t := range toks {
		if t != boundary {
			x.at[t] = append(x.at[t], i)
		}
	}
	return x
}

// matchIndexed is Match over an indexed text.
func (r *Rule) matchIndexed(x *textIndex) bool {
	for _, all := range r.any {
		found := true
		for _, seq := range all {
			if !x.has(seq) {
				found = false
				break
			}
		}
		if found {
			return true
		}
	}
	return false
}

// has reports whether seq matches somewhere in the text.
func (x *textIndex) has(seq []elem) bool {
	if first := seq[0]; first.kind == word && !first.optional && exactOnly(first.alts) {
		for _, a := range first.alts {
			for _, i := range x.at[a.s] {
				if matchAt(seq, x.toks, i) {
					return true
				}
			}
		}
		return false
	}
	for i := range x.toks {
		if matchAt(seq, x.toks, i) {
			return true
		}
	}
	return false
}

func exactOnly(alts []alt) bool {
	for _, a := range alts {
		if a.kind != exact {
			return false
		}
	}
	return len(alts) > 0
}
