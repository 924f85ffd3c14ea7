package stakes

import (
	"cmp"
	"slices"
	"strings"
	"sync"
)

// The detector used to try every sequence of every rule (about 4,900) at
// every token of a text; the lifecycle's profile showed that scan taking
// about half of the service's CPU. A sequence always opens with a word
// (Parse allows no optional word, gap or $ there), and that word's
// alternatives are exact words, prefixes (abus*), suffixes or infixes. So
// the lexicon is compiled once into an index from a word, a prefix, a
// suffix or an infix to the sequences that open with it: for each token of
// a text, its words, prefixes, suffixes and the infixes it holds are looked
// up and only those sequences are tried there, exactly where the scan
// would have found their first word. It answers exactly as Rule.Match
// does (TestIndexedMatchAnswersAsMatch), and files every sequence under
// every alternative of its first word (TestIndexFilesEveryFirstWord). The
// other rules that SetAside applies have an index of their own.

// How many letters of a prefix, a suffix or an infix file it in the
// index (its first, last and first ones): the shortest of each that
// parseAlts allows. A token is looked up once for its prefixes and once
// for its suffixes, then compared with the few filed there.
const (
	prefixKey = 3
	suffixKey = 4
	infixKey  = 4
)

// lexIndex is a lexicon's rules compiled for matching.
type lexIndex struct {
	rules  []*Rule
	seqs   [][]elem
	choice [][][]int32 // rule → choice → its sequences (ids into seqs)
	exact  map[string][]int32
	// prefix, suffix and infix are, by their key letters, the prefixes,
	// suffixes and infixes of first words and their sequences.
	prefix, suffix, infix map[string][]affix
	// infixPairs has a bit set for the first two letters of each infix:
	// where a token's letters are none of them, no infix is looked up.
	infixPairs []uint64
	// scan are the sequences that open with something else than a word,
	// or a word the index cannot file: tried at every token. Parse makes
	// none, but a sequence the index cannot file is never skipped.
	scan   []int32
	isScan []bool  // by sequence id
	ruleOf []int32 // by sequence id: the rule it belongs to
	// scanRules are the rules with a scan sequence: always candidates.
	scanRules []int32
}

// affix is a prefix, suffix or infix of the index and the sequences filed
// under it.
type affix struct {
	s   string
	ids []int32
}

// fileAffix files sequence id under affix s in m, at key.
func fileAffix(m map[string][]affix, key, s string, id int32) {
	es := m[key]
	if k := slices.IndexFunc(es, func(e affix) bool { return e.s == s }); k >= 0 {
		es[k].ids = appendOnce(es[k].ids, id)
		return
	}
	m[key] = append(es, affix{s, []int32{id}})
}

// pair is the bit of infixPairs for the two letters at s[k:].
func pair(s string, k int) (word int, bit uint64) {
	p := int(s[k])<<8 | int(s[k+1])
	return p >> 6, 1 << (p & 63)
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

var othersIndexes sync.Map // **Rule (the first of a slice of other rules) → *lexIndex

// othersIndex returns the compiled index of a lexicon's other rules, for
// SetAside, compiling it on first use.
func othersIndex(others []*Rule) *lexIndex {
	if v, ok := othersIndexes.Load(&others[0]); ok {
		ix := v.(*lexIndex)
		if sameRules(ix.rules, others) {
			return ix
		}
	}
	ix := compileIndex(others)
	othersIndexes.Store(&others[0], ix)
	return ix
}

func sameRules(a, b []*Rule) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func compileIndex(rules []*Rule) *lexIndex {
	ix := &lexIndex{rules: rules, exact: map[string][]int32{}, prefix: map[string][]affix{},
		suffix: map[string][]affix{}, infix: map[string][]affix{}, infixPairs: make([]uint64, 1<<16/64),
		choice: make([][][]int32, len(rules))}
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
	if first.kind != word || first.optional || slices.ContainsFunc(first.alts, func(a alt) bool {
		return a.s == "" || a.kind == prefix && len(a.s) < prefixKey ||
			a.kind == suffix && len(a.s) < suffixKey || a.kind == infix && len(a.s) < infixKey
	}) {
		ix.scan = append(ix.scan, id)
		return
	}
	for _, a := range first.alts {
		switch a.kind {
		case exact:
			ix.exact[a.s] = appendOnce(ix.exact[a.s], id)
		case prefix:
			fileAffix(ix.prefix, a.s[:prefixKey], a.s, id)
		case suffix:
			fileAffix(ix.suffix, a.s[len(a.s)-suffixKey:], a.s, id)
		case infix:
			fileAffix(ix.infix, a.s[:infixKey], a.s, id)
			w, bit := pair(a.s, 0)
			ix.infixPairs[w] |= bit
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
	// is a scan sequence: no other rule can match. cands lists them.
	candidate []bool
	cands     []int32
}

const (
	seqUnknown uint8 = iota
	seqFound
	seqAbsent
)

var textMatchPool = sync.Pool{New: func() any { return new(textMatch) }}

// match finds the indexed sequences that occur in toks. Give the answer
// back with release once it is read.
func (ix *lexIndex) match(toks []string) *textMatch {
	m := textMatchPool.Get().(*textMatch)
	m.ix, m.toks = ix, toks
	m.found = resize(m.found, len(ix.seqs))
	m.candidate = resize(m.candidate, len(ix.rules))
	m.cands = m.cands[:0]
	for _, r := range ix.scanRules {
		m.mark(r)
	}
	// starts gives a sequence where its first word matches the token, and
	// that word is never optional (add): the rest of it is matched from
	// the next token, as matchAt would after matching the first word again.
	try := func(ids []int32, i int) {
		for _, id := range ids {
			if m.found[id] != seqFound && matchAt(ix.seqs[id][1:], toks, i+1) {
				m.found[id] = seqFound
				m.mark(ix.ruleOf[id])
			}
		}
	}
	ix.starts(toks, try)
	return m
}

// resize returns s cleared, with n elements, reusing its memory.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}

func (m *textMatch) mark(r int32) {
	if !m.candidate[r] {
		m.candidate[r] = true
		m.cands = append(m.cands, r)
	}
}

// candidates returns the rules that may match, in the order of the
// index's rules: every other rule does not (rule).
func (m *textMatch) candidates() []int32 {
	slices.Sort(m.cands)
	return m.cands
}

// release gives m back for another text; m is not used after.
func (m *textMatch) release() {
	m.ix, m.toks = nil, nil
	textMatchPool.Put(m)
}

// starts calls try with each token's position and the indexed sequences
// filed under the token (its word, its prefixes, its suffixes): every
// sequence whose first word matches the token, bar the scan sequences.
// A sequence may come more than once for one token.
func (ix *lexIndex) starts(toks []string, try func(ids []int32, i int)) {
	for i, t := range toks {
		if t == boundary { // no word matches a boundary (elem.match)
			continue
		}
		if ids, ok := ix.exact[t]; ok {
			try(ids, i)
		}
		if len(t) >= prefixKey {
			for _, e := range ix.prefix[t[:prefixKey]] {
				if strings.HasPrefix(t, e.s) {
					try(e.ids, i)
				}
			}
		}
		if len(t) >= suffixKey {
			for _, e := range ix.suffix[t[len(t)-suffixKey:]] {
				if strings.HasSuffix(t, e.s) {
					try(e.ids, i)
				}
			}
		}
		for k := 0; k+infixKey <= len(t); k++ {
			if w, bit := pair(t, k); ix.infixPairs[w]&bit == 0 {
				continue
			}
			for _, e := range ix.infix[t[k:k+infixKey]] {
				if strings.HasPrefix(t[k:], e.s) {
					try(e.ids, i)
				}
			}
		}
	}
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

// seqStarts is where, in one text, the indexed sequences of a lexIndex
// may begin: the positions of the tokens their first word matches, by
// sequence, then position (a pair may repeat).
type seqStarts struct{ at []seqAt }

type seqAt struct{ id, i int32 }

var seqStartsPool = sync.Pool{New: func() any { return new(seqStarts) }}

// startsOf finds where the indexed sequences may begin in toks; give the
// answer back with release once it is read.
func (ix *lexIndex) startsOf(toks []string) *seqStarts {
	s := seqStartsPool.Get().(*seqStarts)
	s.at = s.at[:0]
	ix.starts(toks, func(ids []int32, i int) {
		for _, id := range ids {
			s.at = append(s.at, seqAt{id, int32(i)})
		}
	})
	slices.SortFunc(s.at, func(a, b seqAt) int { return cmp.Or(cmp.Compare(a.id, b.id), cmp.Compare(a.i, b.i)) })
	return s
}

// of returns the positions where sequence id may begin, in order.
func (s *seqStarts) of(id int32) []seqAt {
	a, _ := slices.BinarySearchFunc(s.at, id, func(p seqAt, id int32) int { return cmp.Compare(p.id, id) })
	b := a
	for b < len(s.at) && s.at[b].id == id {
		b++
	}
	return s.at[a:b]
}

func (s *seqStarts) release() { seqStartsPool.Put(s) }
