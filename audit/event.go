// Package audit is the append-only log that every state change of Countersign
// is written to: events, their canonical encoding, the hash chain and the
// RFC 6962 Merkle tree over them, signed checkpoints and proofs.
//
// An event holds identifiers, hashes and decision facts, never case prose or
// personal data, so the log can be kept forever and shown to an ethics board
// while case content is erased under data-protection law.
//
// Events are written in two steps. The transaction that changes the state
// inserts a pending event (so the change and its event commit together or not
// at all); a sequencer then gives pending events their gap-free sequence
// numbers in batches, in the manner of Trillian and Tessera, extending the
// hash chain and the Merkle tree. AUDIT.md documents the encoding precisely.
package audit

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Version is the canonical encoding version written as the first line of
// every leaf. Bump it (and keep the old encoder) if the encoding ever changes.
const Version = "countersign-audit/v1"

// Payload holds an event's facts: identifiers, hashes, counts and decision
// codes. Keys are encoded sorted, so map order never reaches a hash.
type Payload map[string]string

// Event is one entry of the audit log.
type Event struct {
	Seq         uint64    `json:"seq"`
	At          time.Time `json:"at"`
	ActorID     string    `json:"actor_id"`
	Role        string    `json:"role"`
	Action      string    `json:"action"`
	SubjectType string    `json:"subject_type"`
	SubjectID   string    `json:"subject_id"`
	CaseID      string    `json:"case_id,omitempty"`
	Payload     Payload   `json:"payload,omitempty"`
	LeafHash    []byte    `json:"leaf_hash"`
	ChainHash   []byte    `json:"chain_hash"`
}

// Validate reports whether e can be encoded: every field must be a single
// line of text, and the event must say who did what to what.
func (e *Event) Validate() error {
	if e.ActorID == "" || e.Action == "" || e.SubjectType == "" {
		return fmt.Errorf("audit event needs actor, action and subject type")
	}
	if e.At.IsZero() {
		return fmt.Errorf("audit event %s needs a time", e.Action)
	}
	for k := range e.Payload {
		if k == "" || strings.ContainsAny(k, "=\n") {
			return fmt.Errorf("audit payload key %q is not allowed", k)
		}
	}
	return nil
}

// Canonical returns the versioned canonical encoding of e from which its leaf
// hash is computed: one "name=value" line per field in a fixed order, then
// one "payload.key=value" line per payload entry sorted by key. Values are
// percent-encoded outside printable ASCII (see appendEscaped), so the encoding is
// unambiguous and easy to reproduce in any language.
func (e *Event) Canonical() []byte {
	return e.AppendCanonical(make([]byte, 0, 256))
}

// AppendCanonical appends the canonical encoding of e to dst and returns the
// extended slice. Verifiers use it to encode millions of events into one
// reused buffer.
func (e *Event) AppendCanonical(dst []byte) []byte {
	dst = append(dst, Version...)
	dst = append(dst, '\n')
	line := func(name, value string) {
		dst = append(dst, name...)
		dst = append(dst, '=')
		dst = appendEscaped(dst, value)
		dst = append(dst, '\n')
	}
	dst = append(dst, "seq="...)
	dst = strconv.AppendUint(dst, e.Seq, 10)
	dst = append(dst, "\nat="...)
	dst = e.At.UTC().AppendFormat(dst, TimeFormat)
	dst = append(dst, '\n')
	line("actor", e.ActorID)
	line("role", e.Role)
	line("action", e.Action)
	line("subject_type", e.SubjectType)
	line("subject_id", e.SubjectID)
	line("case", e.CaseID)
	// A small array keeps the usual handful of keys off the heap.
	var arr [16]string
	keys := arr[:0]
	for k := range e.Payload {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		dst = append(dst, "payload."...)
		dst = appendEscaped(dst, k)
		dst = append(dst, '=')
		dst = appendEscaped(dst, e.Payload[k])
		dst = append(dst, '\n')
	}
	return dst
}

// TimeFormat is the layout of the "at" line: UTC with exactly nanosecond
// precision, so the same instant always encodes the same way.
const TimeFormat = "2006-01-02T15:04:05.000000000Z"

// ParseTime parses a stored "at" value, which must be exactly in
// TimeFormat: a time written another way would hash the same once
// re-formatted, so a rewrite of the stored text would go unseen.
func ParseTime(s string) (time.Time, error) {
	at, err := time.Parse(TimeFormat, s)
	var buf [len(TimeFormat)]byte
	if err != nil || string(at.AppendFormat(buf[:0], TimeFormat)) != s {
		return time.Time{}, fmt.Errorf("time %q is not in the form %s", s, TimeFormat)
	}
	return at, nil
}

// appendEscaped appends s to dst, percent-encoding '%' and every byte
// outside printable ASCII (0x20–0x7E) as %XX with upper-case hex, byte by
// byte in UTF-8.
func appendEscaped(dst []byte, s string) []byte {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '%' {
			dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&0xf])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// ChainHash returns the hash chain link for a leaf:
// SHA-256(0x02 || prev || leafHash). The 0x02 prefix keeps chain hashes apart
// from RFC 6962's leaf (0x00) and node (0x01) hashes.
func ChainHash(prev, leafHash []byte) []byte {
	h := sha256.New()
	h.Write([]byte{0x02})
	h.Write(prev)
	h.Write(leafHash)
	return h.Sum(nil)
}

// ZeroChain is the chain hash before the first event: 32 zero bytes.
var ZeroChain = make([]byte, sha256.Size)
