package review

// Superseding is the rule among the pending drafts of one kind over the
// same notes of a case: the latest request wins, whichever draft is
// generated first. Given the draft just generated and the others of its
// kind and notes still pending, it returns the one left pending (the
// latest requested) and those it supersedes. Requests are ordered by the
// time they were made, then by id.
func Superseding(done *Draft, pending []*Draft) (latest *Draft, superseded []*Draft) {
	latest = done
	for _, d := range pending {
		if requestedAfter(d, latest) {
			latest = d
		}
	}
	for _, d := range append([]*Draft{done}, pending...) {
		if d != latest {
			superseded = append(superseded, d)
		}
	}
	return latest, superseded
}

// requestedAfter reports whether a was requested after b.
func requestedAfter(a, b *Draft) bool {
	return a.CreatedAt.After(b.CreatedAt) || a.CreatedAt.Equal(b.CreatedAt) && a.ID > b.ID
}
