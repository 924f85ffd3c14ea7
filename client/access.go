package client

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
)

// This file holds who looked at the client's file: every staff read of a
// case's content (the case, its notes, its record, a draft, an export on
// the person's behalf) is an audit event written before the content is
// returned, and the client sees the list, each read with the proof that
// the log holds it.

// What a read of a case's content was. Append only: the codes are part of
// every case.read event.
const (
	ReadCase   = "case"
	ReadNotes  = "notes"
	ReadRecord = "record"
	ReadDraft  = "draft"
	ReadExport = "export"
)

// ReadKinds lists the kinds of read.
var ReadKinds = []string{ReadCase, ReadNotes, ReadRecord, ReadDraft, ReadExport}

// Read is one read of a case's content: what was read, and the id of the
// draft or party read when there is one.
type Read struct {
	CaseID   string
	What     string
	TargetID string
	// Empty is a read that returned none of the case's content: a draft
	// still queued or being written shows only its status. Such reads are
	// not logged, so a page polling a draft's progress does not fill the
	// client's list of who looked with reads of nothing.
	Empty bool
}

// ReadEvent decides the audit event of actor's read r: a case.read event
// naming the case, the kind of read and the target's id, nothing else (no
// content, no names). The service's own reads (RoleSystem: the drafting
// worker, whose model call has its own events) and a client reading their
// own file log nothing, nor does a read that returned no content (Empty): nil, nil. Returns EINVALID for an unknown kind of
// read or a read of no case, EUNAUTHORIZED without an actor.
func ReadEvent(a countersign.Actor, r Read) (*audit.Record, error) {
	if a.UserID == "" {
		return nil, countersign.Errorf(countersign.EUNAUTHORIZED, "Sign in first.")
	}
	if r.CaseID == "" || !slices.Contains(ReadKinds, r.What) {
		return nil, countersign.Errorf(countersign.EINVALID, "A read of a case names the case and one of: %v.", ReadKinds)
	}
	if a.Role == countersign.RoleSystem || a.Role == countersign.RoleClient || r.Empty {
		return nil, nil
	}
	p := audit.Payload{"what": r.What}
	if r.TargetID != "" {
		p["target"] = r.TargetID
	}
	return &audit.Record{Actor: a, Action: audit.ActionCaseRead, SubjectType: "case", SubjectID: r.CaseID, CaseID: r.CaseID,
		Payload: p}, nil
}

// Access is one staff read of the client's file, as the client sees it.
type Access struct {
	// Seq is the read's place in the audit log; nil while it is being
	// recorded (written, not yet sequenced).
	Seq      *uint64   `json:"seq,omitempty"`
	At       time.Time `json:"at"`
	CaseID   string    `json:"case_id"`
	Who      Staff     `json:"who"`
	What     string    `json:"what"`
	TargetID string    `json:"target_id,omitempty"`
	// Words is the read in plain words in the client's language.
	Words string `json:"words"`
	// Canonical is the event's canonical encoding (audit.Event.Canonical),
	// whose RFC 6962 leaf hash the proof starts from: anyone can hash it.
	Canonical []byte `json:"canonical,omitempty"`
	// Proof proves the read is in the log of the access log's checkpoint.
	Proof *audit.Inclusion `json:"proof,omitempty"`
}

// Recorded reports whether the read has its place in the log.
func (a Access) Recorded() bool { return a.Seq != nil }

// Checkpoint is the signed checkpoint the proofs are made against.
type Checkpoint struct {
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
	Root   []byte `json:"root"`
	// Note is the signed note, verifiable with the log's public key.
	Note string `json:"note"`
}

// AccessLog is the list of staff reads of the client's file, newest first.
type AccessLog struct {
	Language   string      `json:"language"`
	Checkpoint *Checkpoint `json:"checkpoint,omitempty"`
	Entries    []Access    `json:"entries"`
}

// MaxAccessLog bounds the reads one access log lists.
const MaxAccessLog = 1000

// AccessView turns a case.read event of one of the client's cases into
// what the client sees of it, in lang. e.Seq is taken as the read's place
// when sequenced is set. staff names the readers by user id.
func AccessView(e *audit.Event, sequenced bool, staff map[string]Staff, lang string) Access {
	who, ok := staff[e.ActorID]
	if !ok {
		who = Staff{Role: e.Role}
	}
	what := e.Payload["what"]
	v := Access{At: e.At, CaseID: e.CaseID, Who: who, What: what, TargetID: e.Payload["target"]}
	if sequenced {
		seq := e.Seq
		v.Seq = &seq
		v.Canonical = e.Canonical()
	}
	v.Words = Words(lang, "read.sentence", named(lang, who), Words(lang, "role."+who.Role), Words(lang, "read."+what))
	return v
}

// Prover serves a signed checkpoint and inclusion proofs against it;
// *audit.Notary (api.Server's AuditProofs) is the real one.
type Prover interface {
	// Checkpoint returns the latest signed checkpoint, sequencing the
	// pending events and signing a new one first if the log grew.
	Checkpoint(ctx context.Context) (*audit.Checkpoint, error)
	InclusionProof(ctx context.Context, index, size uint64) (*audit.Inclusion, error)
}

// AccessLog returns the principal's access log (FileStore.FindAccessLog)
// with the latest signed checkpoint and, for each read the log holds
// within it, its inclusion proof. The checkpoint is asked first: asking
// sequences the reads still pending, so they are read with their place
// and proved at once. Each proof is checked before it is given
// (audit.VerifyInclusion), so the client is never shown one that does not
// hold. A read beyond the checkpoint has no proof; proofs nil gives none.
func ProvedAccessLog(ctx context.Context, files FileStore, proofs Prover, limit int) (*AccessLog, error) {
	var cp *audit.Checkpoint
	if proofs != nil {
		var err error
		if cp, err = proofs.Checkpoint(ctx); err != nil {
			return nil, err
		}
	}
	l, err := files.FindAccessLog(ctx, limit)
	if err != nil || cp == nil {
		return l, err
	}
	l.Checkpoint = &Checkpoint{Origin: cp.Origin, Size: cp.Size, Root: cp.Root, Note: string(cp.Note)}
	for i := range l.Entries {
		e := &l.Entries[i]
		if e.Seq == nil || *e.Seq >= cp.Size {
			continue
		}
		p, err := proofs.InclusionProof(ctx, *e.Seq, cp.Size)
		if err != nil {
			return nil, err
		}
		if err := audit.VerifyInclusion(p.Index, p.Size, audit.Hasher.HashLeaf(e.Canonical), p.Hashes, cp.Root); err != nil {
			return nil, fmt.Errorf("access log read %d: %w", *e.Seq, err)
		}
		e.Proof = p
	}
	return l, nil
}
