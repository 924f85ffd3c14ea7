package review

import "strings"

// Diff operations.
const (
	OpEqual  = "equal"
	OpInsert = "insert"
	OpDelete = "delete"
)

// DiffOp is one run of a word-level diff: words kept as drafted (equal),
// added by the reviewer (insert) or taken out (delete). Text holds the run's
// words joined by single spaces.
type DiffOp struct {
	Op   string `json:"op"`
	Text string `json:"text"`
}

// maxDiffCells bounds the memory of the longest-common-subsequence table
// (int32 cells). A middle section larger than this (two very different
// texts of thousands of words each) is reported as deleted and inserted
// whole, which is still a correct diff, just not a minimal one.
const maxDiffCells = 4 << 20

// WordDiff returns a word-level diff from drafted to final: applying the
// equal and insert runs in order gives final's words, the equal and delete
// runs give drafted's. Whitespace and line breaks are not compared.
func WordDiff(drafted, final string) []DiffOp {
	a, b := strings.Fields(drafted), strings.Fields(final)
	var ops []DiffOp
	add := func(op string, words ...string) {
		if len(words) == 0 {
			return
		}
		if n := len(ops); n > 0 && ops[n-1].Op == op {
			ops[n-1].Text += " " + strings.Join(words, " ")
			return
		}
		ops = append(ops, DiffOp{Op: op, Text: strings.Join(words, " ")})
	}
	// Common prefix and suffix first: edits are usually local, and this
	// keeps the quadratic part small.
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	add(OpEqual, a[:p]...)
	ma, mb := a[p:len(a)-s], b[p:len(b)-s]
	if (len(ma)+1)*(len(mb)+1) > maxDiffCells {
		add(OpDelete, ma...)
		add(OpInsert, mb...)
	} else {
		lcsDiff(ma, mb, add)
	}
	add(OpEqual, a[len(a)-s:]...)
	if ops == nil {
		return []DiffOp{}
	}
	return ops
}

// lcsDiff emits the diff of a and b from a longest-common-subsequence table.
func lcsDiff(a, b []string, add func(op string, words ...string)) {
	n, m := len(a), len(b)
	// t[i][j] is the LCS length of a[i:] and b[j:].
	t := make([]int32, (n+1)*(m+1))
	at := func(i, j int) int32 { return t[i*(m+1)+j] }
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			switch {
			case a[i] == b[j]:
				t[i*(m+1)+j] = at(i+1, j+1) + 1
			case at(i+1, j) >= at(i, j+1):
				t[i*(m+1)+j] = at(i+1, j)
			default:
				t[i*(m+1)+j] = at(i, j+1)
			}
		}
	}
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case a[i] == b[j]:
			add(OpEqual, a[i])
			i, j = i+1, j+1
		case at(i+1, j) >= at(i, j+1):
			add(OpDelete, a[i])
			i++
		default:
			add(OpInsert, b[j])
			j++
		}
	}
	add(OpDelete, a[i:]...)
	add(OpInsert, b[j:]...)
}
