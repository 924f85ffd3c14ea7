package audit_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/countersign/countersign/audit"
	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/note"
)

const testOrigin = "countersign.test/audit"

// memNodes is an in-memory NodeReader. Each level is one flat byte slice,
// because a tree built from index 0 completes the nodes of every level in
// index order; a million leaves then cost 64 MB rather than two million
// small allocations.
type memNodes struct {
	levels [][]byte
}

func (m *memNodes) add(level uint, index uint64, hash []byte) {
	for uint(len(m.levels)) <= level {
		m.levels = append(m.levels, nil)
	}
	if uint64(len(m.levels[level])) != index*32 {
		panic(fmt.Sprintf("node %d.%d out of order", level, index))
	}
	m.levels[level] = append(m.levels[level], hash...)
}

func (m *memNodes) ReadNodes(_ context.Context, ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		if id.Level >= uint(len(m.levels)) || (id.Index+1)*32 > uint64(len(m.levels[id.Level])) {
			return nil, fmt.Errorf("node %d.%d not found", id.Level, id.Index)
		}
		out[i] = bytes.Clone(m.levels[id.Level][id.Index*32 : (id.Index+1)*32])
	}
	return out, nil
}

// testLog is an in-memory log built with Head.Append, as the store builds it.
type testLog struct {
	head   *audit.Head
	events []*audit.Event
	nodes  *memNodes
	roots  [][]byte // roots[n] is the root of the first n events
	chains [][]byte // chains[n] is the chain head after n events
	signer note.Signer
	vkey   string
	keys   []note.Verifier
}

// testEvent returns the i-th event of a test log: varied fields, a payload,
// and sometimes a case, so every line of the canonical encoding is exercised.
func testEvent(i int) *audit.Event {
	actions := []string{audit.ActionDraftRequested, audit.ActionDraftGenerated, audit.ActionDraftApproved, audit.ActionNoteAdded}
	e := &audit.Event{
		At:          time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(i) * 1500 * time.Millisecond),
		ActorID:     fmt.Sprintf("usr_%04d", i%7),
		Role:        "worker",
		Action:      actions[i%len(actions)],
		SubjectType: "draft",
		SubjectID:   fmt.Sprintf("drf_%06d", i),
		Payload:     audit.Payload{"kind": "summary", "model": "extractive", "content_sha256": fmt.Sprintf("%064x", i)},
	}
	if i%3 != 0 {
		e.CaseID = fmt.Sprintf("case_%03d", i%11)
	}
	return e
}

func mustBuildLog(tb testing.TB, n int) *testLog {
	tb.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, testOrigin)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		tb.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		tb.Fatal(err)
	}
	l := &testLog{head: audit.NewHead(), nodes: &memNodes{}, signer: s, vkey: vkey, keys: []note.Verifier{v}}
	l.roots = append(l.roots, audit.Hasher.EmptyRoot())
	l.chains = append(l.chains, audit.ZeroChain)
	for i := 0; i < n; i++ {
		e := testEvent(i)
		nodes, err := l.head.Append(e)
		if err != nil {
			tb.Fatal(err)
		}
		for _, nd := range nodes {
			l.nodes.add(nd.Level, nd.Index, nd.Hash)
		}
		root, err := l.head.Root()
		if err != nil {
			tb.Fatal(err)
		}
		l.events = append(l.events, e)
		l.roots = append(l.roots, root)
		l.chains = append(l.chains, e.ChainHash)
	}
	return l
}

// mustCheckpoint signs a checkpoint over the first size events of l.
func (l *testLog) mustCheckpoint(tb testing.TB, size int) *audit.Checkpoint {
	tb.Helper()
	cp, err := audit.SignCheckpoint(l.signer, testOrigin, l.headAt(tb, size))
	if err != nil {
		tb.Fatal(err)
	}
	return cp
}

// headAt rebuilds the head after the first size events.
func (l *testLog) headAt(tb testing.TB, size int) *audit.Head {
	tb.Helper()
	h := audit.NewHead()
	for _, e := range l.events[:size] {
		c := copyEvent(e)
		if _, err := h.Append(c); err != nil {
			tb.Fatal(err)
		}
	}
	return h
}

// copies returns deep copies of the events, for tampering.
func (l *testLog) copies() []*audit.Event {
	out := make([]*audit.Event, len(l.events))
	for i, e := range l.events {
		out[i] = copyEvent(e)
	}
	return out
}

func copyEvent(e *audit.Event) *audit.Event {
	c := *e
	c.LeafHash = bytes.Clone(e.LeafHash)
	c.ChainHash = bytes.Clone(e.ChainHash)
	c.Payload = audit.Payload{}
	for k, v := range e.Payload {
		c.Payload[k] = v
	}
	return &c
}

// stream returns a next function over events, as a store cursor would.
func stream(events []*audit.Event) func() (*audit.Event, error) {
	i := 0
	return func() (*audit.Event, error) {
		if i == len(events) {
			return nil, io.EOF
		}
		i++
		return events[i-1], nil
	}
}
