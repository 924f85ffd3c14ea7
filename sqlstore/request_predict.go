package sqlstore

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/review"
)

// A worker writes a note and asks for a draft of it moments later, most
// often through the process that stored the note, in a case whose row
// this process read, at its current version, for the last draft requested
// in it. On PostgreSQL the request then decides on what the process kept
// (predictRequest) and writes at once: the fenced write alone, where it
// read the case, its latest consent and its notes first (requestRead).
//
// The prediction is checked, not trusted. The write is fenced on the
// case's row at the version the case and its consent were read at: an
// assignment, a closure, an erasure and a consent answer each give the
// row a new version (RecordConsent touches it for that). The notes need
// no fence: a note kept was stored by this process (its statement had
// committed), and notes are append-only (a trigger refuses any UPDATE or
// DELETE but an erasure's, which marks the case erased, a new version). A
// fence lost writes nothing, and the request reads and decides as it did
// before; so does a refusal decided on a prediction, which may be stale
// where the write is fenced.
//
// What is kept holds no text in the clear: the case without its title and
// reference, and the notes' bodies as sealed, opened with the case's key
// for the request (its claim hint takes them, as after a read).

// requestCase is a case as a draft request read it: without its title and
// reference (no check reads them), the version of its row, and its latest
// consent answer (nil: none).
type requestCase struct {
	c       casefile.Case
	version string
	consent *casefile.Consent
}

// keptNote is a note stored here, its body sealed with the key keyID.
type keptNote struct {
	note  casefile.Note
	keyID string
}

// requestKept bounds what is kept for requests, and for how long (by the
// wall clock: a stale entry is fenced anyway, this only bounds memory).
const (
	requestKeptLimit = 1024
	requestKeptFor   = time.Minute
)

var (
	requestCases = sync.OnceValue(func() *expirable.LRU[hintKey, requestCase] {
		return expirable.NewLRU[hintKey, requestCase](requestKeptLimit, nil, requestKeptFor)
	})
	keptNotes = sync.OnceValue(func() *expirable.LRU[hintKey, keptNote] {
		return expirable.NewLRU[hintKey, keptNote](requestKeptLimit, nil, requestKeptFor)
	})
)

// keepRequestCase keeps c, read by a draft request at version with its
// latest consent cur, for the next request in it.
func (db *conn) keepRequestCase(c *casefile.Case, version string, cur *casefile.Consent) {
	kept := *c
	kept.Title, kept.Reference = "", ""
	requestCases().Add(hintKey{db, c.ID}, requestCase{c: kept, version: version, consent: cur})
}

// keepNote keeps n, just stored here with its body sealed as sealed by
// the key keyID, for a draft request that names it.
func (db *conn) keepNote(n *casefile.Note, sealed, keyID string) {
	kept := *n
	kept.Body, kept.Salt = sealed, ""
	keptNotes().Add(hintKey{db, n.ID}, keptNote{note: kept, keyID: keyID})
}

// predictRequest returns what this process kept of req's case and of the
// notes req names (not a letter's: requestByStatement never asks), opened,
// in the order a read gives them (written_at, id), or nil: a request that
// names no note (it is made from all of the case's), a case or a note not
// kept here, a note of another case, or a case key that is not the one the
// notes were sealed with. A test that hooks the request's read
// (AfterRequestRead) is given the read.
func (db *conn) predictRequest(ctx context.Context, req review.DraftRequest) (*requestCase, []*casefile.Note) {
	if len(req.NoteIDs) == 0 {
		return nil, nil
	}
	if _, hooked := afterRequestRead.Load(req.CaseID); hooked {
		return nil, nil
	}
	rc, ok := requestCases().Get(hintKey{db, req.CaseID})
	if !ok {
		return nil, nil
	}
	k, keyID, err := db.caseKeyHint(ctx, req.CaseID)
	if err != nil || k == nil {
		return nil, nil
	}
	ids := slices.Clone(req.NoteIDs)
	slices.Sort(ids)
	var notes []*casefile.Note
	for _, id := range slices.Compact(ids) {
		kn, ok := keptNotes().Get(hintKey{db, id})
		if !ok || kn.note.CaseID != req.CaseID || kn.keyID != keyID {
			return nil, nil
		}
		n := kn.note
		if n.Body, err = k.Open(noteBody(id), n.Body); err != nil {
			return nil, nil
		}
		notes = append(notes, &n)
	}
	slices.SortFunc(notes, func(a, b *casefile.Note) int {
		return cmp.Or(a.WrittenAt.Compare(b.WrittenAt), strings.Compare(a.ID, b.ID))
	})
	return &rc, notes
}
