package sqlstore

import (
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/review"
)

// A draft request that committed here knows what a worker's claim of its
// draft reads first: the draft's id, case, kind, language, status (queued)
// and attempts (none), and the notes it is made from, which the request
// read and opened. It leaves them here as a claim hint, under the draft's
// id, and the worker the request wakes (Runner.Wake, then ClaimDraft)
// claims with them at once (claimByHint): one statement, which also reads
// the case's parties, where the claim read the draft, claimed it, then
// read its notes and its parties.
//
// A hint is only ever a guess about another process's rows: the claim
// statement's fence (the draft still queued at attempt 0, and claimable)
// makes a stale one claim nothing, and the claim then reads the draft as
// without a hint. Its notes are the job's only when that fence holds: the
// draft has not been claimed since it was queued, and the notes a draft
// names are never changed (a case's notes are overwritten only by its
// erasure, which needs the case closed, and the closure supersedes the
// queued drafts, which the fence then refuses). The parties, which change,
// are never hinted: the claim statement reads them.

// claimHint is what a draft request that committed here knows of its
// draft, the draft as a claim reads it and the notes of its job.
type claimHint struct {
	row   claimRow
	notes []assistant.Note
}

// hintKey names a hint by the store that keeps it and the draft's id: a
// hint is known to one handle (one process), as the wake-up that takes it.
type hintKey struct {
	db *conn
	id string
}

// claimHintsKept bounds the hints waiting for their claims, across the
// process's stores: a hint whose draft is claimed elsewhere (a poll, another
// replica) is not taken, and the oldest make way for new ones. claimHintFor
// bounds how long one is kept (the woken worker claims at once): an older
// one is not taken (by the handle's clock, takeStamped), the claim reads
// the draft, and the LRU drops it from memory (by the wall clock).
const (
	claimHintsKept = 256
	claimHintFor   = time.Minute
)

// claimHints holds every handle's hints; made at the first one kept, as
// the LRU's expiry runs in a goroutine of its own.
var claimHints = sync.OnceValue(func() *expirable.LRU[hintKey, stamped[*claimHint]] {
	return expirable.NewLRU[hintKey, stamped[*claimHint]](claimHintsKept, nil, claimHintFor)
})

// keepClaimHint keeps the hint of the draft d, just queued (committed)
// from notes, which the request read: those of them d is made from, in
// d's order, become the job's notes. Letters, made from record entries,
// get none.
func (db *conn) keepClaimHint(d *review.Draft, notes []*casefile.Note) {
	if d.Kind == assistant.KindLetter || len(d.NoteIDs) == 0 {
		return
	}
	byID := make(map[string]*casefile.Note, len(notes))
	for _, n := range notes {
		byID[n.ID] = n
	}
	made := make([]*casefile.Note, len(d.NoteIDs))
	for i, id := range d.NoteIDs {
		if made[i] = byID[id]; made[i] == nil {
			return
		}
	}
	keepStamped(db, claimHints(), hintKey{db, d.ID}, &claimHint{
		row:   claimRow{ID: d.ID, CaseID: d.CaseID, Kind: string(d.Kind), Status: string(review.StatusQueued), Language: d.Language},
		notes: toAssistantNotes(made),
	})
}

// takeClaimHint returns and forgets the hint of the draft id, nil when
// there is none or it was kept longer than claimHintFor. Two takers may
// both get it; the claim's fence lets one of them claim.
func (db *conn) takeClaimHint(id string) *claimHint {
	h, _ := takeStamped(db, claimHints(), hintKey{db, id}, claimHintFor)
	return h
}
