package stakes

import "sync"

// The detector used to try every sequence of every rule (about 4,900) at
// every token of a text; the lifecycle's profile showed that scan taking
// about half of the service's CPU. A sequence always opens with a word
// (Parse allows no optional word, gap or $ there), and that word's
// alternatives are exact words, prefixes (abus*), suffixes or infixes. So
// the lexicon is compiled once into an index from a word, a prefix or a
// suffix to the sequences that open with it: for each token of a text,
// its words, prefixes and suffixes are looked up and only those sequences
// are tried there, exactly where the scan would have found their first
// word. Only sequences opening with an infix are still tried everywhere.
// It answers exactly as Rule.Match does (TestIndexedMatchAnswersAsMatch).

// lexIndex is a lexicon's rules compiled for matching.
type lexIndex struct {
	rules  []*Rule
	seqs   [][]elem
	choice [][][]int32 // rule → choice → its sequences (ids into seqs)
	exact  map[string][]int32
	prefix map[string][]int32
	suffix map[string][]int32
	scan   []int32 // sequences whose first word has an infix: tried at every token
	isScan []bool  // by sequence id
	ruleOf []int32 // by sequence id: the rule it belongs to
	// scanRules are the rules with a scan sequence: always candidates.
	scanRules []int32
	// maxPre and maxSuf are the longest prefix and suffix in the index,
	// so a token's longer prefixes and suffixes are not looked up.
	maxPre, maxSuf int
}

var lexIndexes sync.Map // *Lexicon → *lexIndex

// index returns lx's compiled index, compiling it on first use (and again
// if lx.Rules was replaced since).
func (lx *Lexicon) index() *lexIndex {
	if v, ok := lexIndexes.Load(lx); ok {
		ix := v.(*lexIndex)
		if sameRules(ix.rules, lx.Rules) {
			return ix
		}
	}
	ix := compileIndex(lx.Rules)
	lexIndexes.Store(lx, ix)
	return ix
}

func sameRules(a, b []*Rule) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func compileIndex(rules []*Rule) *lexIndex {
	ix := &lexIndex{rules: rules, exact: map[string][]int32{}, prefix: map[string][]int32{},
		suffix: map[string][]int32{}, choice: make([][][]int32, len(rules))}
	for ri, r := range rules {
		for _, all := range r.any {
			ids := make([]int32, len(all))
			for si, seq := range all {
				id := int32(len(ix.seqs))
				ids[si] = id
				ix.seqs = append(ix.seqs, seq)
				ix.ruleOf = append(ix.ruleOf, int32(ri))
				ix.add(id, seq)
			}
			ix.choice[ri] = append(ix.choice[ri], ids)
		}
	}
	ix.isScan = make([]bool, len(ix.seqs))
	for _, id := range ix.scan {
		ix.isScan[id] = true
		if r := ix.ruleOf[id]; len(ix.scanRules) == 0 || ix.scanRules[len(ix.scanRules)-1] != r {
			ix.scanRules = append(ix.scanRules, r)
		}
	}
	return ix
}

// add files sequence id under the alternatives of its first word.
func (ix *lexIndex) add(id int32, seq []elem) {
	first := seq[0]
	if first.kind != word || first.optional {
		ix.scan = append(ix.scan, id)
		return
	}
	for _, a := range first.alts {
		if a.kind == infix {
			ix.scan = append(ix.scan, id)
			return
		}
	}
	for _, a := range first.alts {
		switch a.kind {
		case exact:
			ix.exact[a.s] = appendOnce(ix.exact[a.s], id)
		case prefix:
			ix.prefix[a.s] = appendOnce(ix.prefix[a.s], id)
			ix.maxPre = max(ix.maxPre, len(a.s))
		case suffix:
			ix.suffix[a.s] = appendOnce(ix.suffix[a.s], id)
			ix.maxSuf = max(ix.maxSuf, len(a.s))
		}
	}
}

func appendOnce(ids []int32, id int32) []int32 {
	if len(ids) > 0 && ids[len(ids)-1] == id {
		return ids
	}
	return append(ids, id)
}

// textMatch is which sequences of a lexIndex occur in one text.
type textMatch struct {
	ix   *lexIndex
	toks []string
	// found is, by sequence id, seqFound, or seqAbsent; a scan sequence
	// is tried when first asked about (seqUnknown until then); an indexed
	// one not found by match is absent.
	found []uint8
	// candidate is, by rule, whether one of its sequences was found or
	// is a scan sequence: no other rule can match.
	candidate []bool
}

const (
	seqUnknown uint8 = iota
	seqFound
	seqAbsent
)

// match finds the indexed sequences that occur in toks.
func (ix *lexIndex) match(toks []string) *textMatch {
	m := &textMatch{ix: ix, toks: toks, found: make([]uint8, len(ix.seqs)),
		candidate: make([]bool, len(ix.rules))}
	for _, r := range ix.scanRules {
		m.candidate[r] = true
	}
	try := func(ids []int32, i int) {
		for _, id := range ids {
			if m.found[id] != seqFound && matchAt(ix.seqs[id], toks, i) {
				m.found[id] = seqFound
				m.candidate[ix.ruleOf[id]] = true
			}
		}
	}
	for i, t := range toks {
		if t == boundary { // no word matches a boundary (elem.match)
			continue
		}
		try(ix.exact[t], i)
		for k := 0; k <= len(t) && k <= ix.maxPre; k++ {
			if ids, ok := ix.prefix[t[:k]]; ok {
				try(ids, i)
			}
		}
		for k := 0; k <= len(t) && k <= ix.maxSuf; k++ {
			if ids, ok := ix.suffix[t[len(t)-k:]]; ok {
				try(ids, i)
			}
		}
	}
	return m
}

// rule reports whether rule ri of the index matches the text: one of its
// choices has all its sequences in it.
func (m *textMatch) rule(ri int) bool {
	if !m.candidate[ri] {
		return false
	}
	for _, ids := range m.ix.choice[ri] {
		all := true
		for _, id := range ids {
			if !m.has(id) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func (m *textMatch) has(id int32) bool {
	if m.found[id] == seqUnknown && m.ix.isScan[id] {
		m.found[id] = seqAbsent
		for i := range m.toks {
			if matchAt(m.ix.seqs[id], m.toks, i) {
				m.found[id] = seqFound
				break
			}
		}
	}
	return m.found[id] == seqFound
}
