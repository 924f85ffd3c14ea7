package audit

// The verifier's fast parser. It writes the canonical encoding of an event
// (section 2 of AUDIT.md) straight from what it reads, with no Event in
// between: from an export line (appendLineCanonical) or from a store's
// columns (appendStoredCanonical). It takes only the exact form Countersign
// writes and reports false for anything else, which then goes the general
// way: parseLine (encoding/json) or StoredEvent.event (time.Parse and
// json.Unmarshal), then Event.AppendCanonical. Both ways accept the same
// input and give the same leaf, or the same error; FuzzFastParse, in
// fastparse_test.go, holds the fast parser to the general one.

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"strconv"
	"unicode/utf8"
)

// The export line door takes only lines in exactly the form Writer writes
// when no string needs a JSON escape (fields in order, payload keys in
// strictly increasing order, as encoding/json sorts map keys), where each
// field maps one to one onto a line of the canonical encoding.

// leafLine is a line's canonical encoding and stored hashes.
type leafLine struct {
	seq         uint64
	leaf, chain [32]byte
}

// appendLineCanonical appends 0x00 and the canonical encoding of the event
// line to dst. It reports false, with dst in any state, for a line that is
// not in the fast form.
func appendLineCanonical(dst, line []byte) ([]byte, leafLine, bool) {
	var x leafLine
	p, ok := skip(line, `{"seq":`)
	if !ok {
		return dst, x, false
	}
	var digits []byte
	if x.seq, digits, p, ok = jsonUint(p); !ok {
		return dst, x, false
	}
	dst = append(dst, 0x00)
	dst = append(dst, Version...)
	dst = append(dst, "\nseq="...)
	dst = append(dst, digits...)
	if p, ok = skip(p, `,"at":"`); !ok || len(p) < len(TimeFormat)+1 || p[len(TimeFormat)] != '"' || !canonicalTime(p[:len(TimeFormat)]) {
		return dst, x, false
	}
	dst = append(dst, "\nat="...)
	dst = append(dst, p[:len(TimeFormat)]...)
	p = p[len(TimeFormat)+1:]
	for _, f := range lineFields {
		if p, ok = skip(p, f.json); !ok {
			return dst, x, false
		}
		dst = append(dst, f.canonical...)
		if dst, _, p, ok = appendJSONString(dst, p); !ok {
			return dst, x, false
		}
	}
	dst = append(dst, '\n')
	if p, ok = skip(p, `,"payload":`); !ok {
		return dst, x, false
	}
	if dst, p, ok = appendPayloadObject(dst, p); !ok {
		return dst, x, false
	}
	if p, ok = skip(p, `,"leaf_hash":"`); !ok || !hexHash(&x.leaf, p) {
		return dst, x, false
	}
	if p, ok = skip(p[64:], `","chain_hash":"`); !ok || !hexHash(&x.chain, p) {
		return dst, x, false
	}
	if string(p[64:]) != `"}` {
		return dst, x, false
	}
	return dst, x, true
}

// lineFields are the string fields between "at" and "payload", in order:
// the JSON key (with the quote opening the value) and the canonical name.
var lineFields = [...]struct{ json, canonical string }{
	{`,"actor_id":"`, "\nactor="},
	{`,"role":"`, "\nrole="},
	{`,"action":"`, "\naction="},
	{`,"subject_type":"`, "\nsubject_type="},
	{`,"subject_id":"`, "\nsubject_id="},
	{`,"case_id":"`, "\ncase="},
}

// appendPayloadObject appends the payload lines of the JSON object at the
// start of p, in the form json.Marshal writes a Payload without escapes:
// {"key":"value",...} with keys in strictly increasing byte order, so that
// the object's order is the canonical order and no key repeats. It returns
// what follows the object.
func appendPayloadObject(dst, p []byte) ([]byte, []byte, bool) {
	p, ok := skip(p, "{")
	if !ok {
		return dst, p, false
	}
	if len(p) > 0 && p[0] == '}' {
		return dst, p[1:], true
	}
	var prev []byte
	for first := true; ; first = false {
		if p, ok = skip(p, `"`); !ok {
			return dst, p, false
		}
		dst = append(dst, "payload."...)
		var key []byte
		if dst, key, p, ok = appendJSONString(dst, p); !ok || (!first && bytes.Compare(prev, key) >= 0) {
			return dst, p, false
		}
		prev = key
		if p, ok = skip(p, `:"`); !ok {
			return dst, p, false
		}
		dst = append(dst, '=')
		if dst, _, p, ok = appendJSONString(dst, p); !ok {
			return dst, p, false
		}
		dst = append(dst, '\n')
		if len(p) == 0 {
			return dst, p, false
		}
		switch p[0] {
		case ',':
			p = p[1:]
		case '}':
			return dst, p[1:], true
		default:
			return dst, p, false
		}
	}
}

func skip(p []byte, lit string) ([]byte, bool) {
	if len(p) < len(lit) || string(p[:len(lit)]) != lit {
		return p, false
	}
	return p[len(lit):], true
}

// plain marks the bytes a JSON string may hold unescaped that the
// canonical encoding copies as they are: printable ASCII except '%', and
// except '"' and '\' which end or escape a JSON string.
var plain = func() (t [256]bool) {
	for c := 0x20; c <= 0x7e; c++ {
		t[c] = c != '%' && c != '"' && c != '\\'
	}
	return t
}()

// appendJSONString reads a JSON string without escapes or control
// characters from p, which starts after its opening quote (the text is
// known to be valid UTF-8), and appends its value escaped as the canonical
// encoding escapes it. It returns the raw value and what follows the
// closing quote.
func appendJSONString(dst, p []byte) (out, raw, rest []byte, ok bool) {
	const hexDigits = "0123456789ABCDEF"
	start := 0
	for i := start; ; i++ {
		i += plainPrefix(p[i:])
		if i == len(p) {
			return dst, nil, nil, false
		}
		dst = append(dst, p[start:i]...)
		switch c := p[i]; {
		case c == '"':
			return dst, p[:i], p[i+1:], true
		case c == '\\' || c < 0x20:
			return dst, nil, nil, false
		default:
			dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&0xf])
			start = i + 1
		}
	}
}

// plainPrefix returns the length of the run of plain bytes p starts with,
// eight bytes at a time while it can.
func plainPrefix(p []byte) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(p); i += 8 {
		x := binary.LittleEndian.Uint64(p[i:])
		q, pc, bs := x^(lo*'"'), x^(lo*'%'), x^(lo*'\\')
		// A byte below 0x20, above 0x7e, or equal to '"', '%' or '\':
		// the bit tricks of "hasless", "hasmore" and "haszero", exact as
		// a yes or no for the word.
		if ((x-lo*0x20)&^x|(x+lo|x)|(q-lo)&^q|(pc-lo)&^pc|(bs-lo)&^bs)&hi != 0 {
			break
		}
	}
	for i < len(p) && plain[p[i]] {
		i++
	}
	return i
}

// jsonUint reads a JSON number that is a uint64: no sign, fraction,
// exponent, leading zero or overflow.
func jsonUint(p []byte) (n uint64, digits, rest []byte, ok bool) {
	i := 0
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		d := uint64(p[i] - '0')
		if n > (math.MaxUint64-d)/10 {
			return 0, nil, nil, false
		}
		n = n*10 + d
		i++
	}
	if i == 0 || (p[0] == '0' && i > 1) {
		return 0, nil, nil, false
	}
	return n, p[:i], p[i:], true
}

// unhex maps a hex digit, either case as encoding/hex reads them, to its
// value, and anything else to 0xff.
var unhex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range "0123456789abcdef" {
		t[c] = byte(i)
	}
	for i, c := range "ABCDEF" {
		t[c] = byte(10 + i)
	}
	return t
}()

// hexHash decodes the 64 hex digits at the start of p into h.
func hexHash(h *[32]byte, p []byte) bool {
	if len(p) < 64 {
		return false
	}
	var bad byte
	for i := range h {
		hi, lo := unhex[p[2*i]], unhex[p[2*i+1]]
		bad |= hi | lo
		h[i] = hi<<4 | lo
	}
	return bad&0xf0 == 0
}

// canonicalTime reports whether t is a time in TimeFormat that formats
// back to itself: what time.Parse(TimeFormat, t) accepts and
// Time.Format(TimeFormat) gives back unchanged, checked without either.
func canonicalTime(t []byte) bool {
	// 2006-01-02T15:04:05.000000000Z
	if len(t) != len(TimeFormat) || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' ||
		t[16] != ':' || t[19] != '.' || t[29] != 'Z' {
		return false
	}
	for _, i := range [...]int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22, 23, 24, 25, 26, 27, 28} {
		if t[i] < '0' || t[i] > '9' {
			return false
		}
	}
	num := func(i, n int) int {
		v := 0
		for _, c := range t[i : i+n] {
			v = v*10 + int(c-'0')
		}
		return v
	}
	year, month, day := num(0, 4), num(5, 2), num(8, 2)
	if month < 1 || month > 12 || day < 1 || num(11, 2) > 23 || num(14, 2) > 59 || num(17, 2) > 59 {
		return false
	}
	days := [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[month-1]
	if month == 2 && year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		days = 29
	}
	return day <= days
}

// eventLeaf computes the leaf hash and reads the stored hashes of the event
// on an export line (already checked by checkLine, its CR dropped), with
// canon as scratch space, which it returns (grown, perhaps).
func eventLeaf(line []byte, lineNo int, canon []byte) ([]byte, rec, error) {
	canon, x, ok := appendLineCanonical(canon[:0], line)
	if ok {
		return canon, rec{seq: x.seq, leaf: x.leaf, chain: x.chain, sum: sha256.Sum256(canon), ok: leafOK | chainOK}, nil
	}
	e, err := parseLine(line, lineNo)
	if err != nil {
		return canon, rec{}, err
	}
	return eventRec(e, canon)
}

// storedRec hashes a StoredEvent, with canon as scratch space. The fast way
// writes the canonical encoding from the columns; when the time is not
// exactly in TimeFormat or the payload not in the form json.Marshal writes,
// the event is decoded as a store decodes it into an Event and encoded
// from that, so both ways give the same leaf, or the same error.
func storedRec(e *StoredEvent, canon []byte) ([]byte, rec, error) {
	r := rec{seq: e.Seq}
	if len(e.LeafHash) == sha256.Size {
		r.leaf, r.ok = [sha256.Size]byte(e.LeafHash), r.ok|leafOK
	}
	if len(e.ChainHash) == sha256.Size {
		r.chain, r.ok = [sha256.Size]byte(e.ChainHash), r.ok|chainOK
	}
	canon, ok := appendStoredCanonical(canon[:0], e)
	if !ok {
		ev, err := e.event()
		if err != nil {
			return canon, r, err
		}
		canon = ev.AppendCanonical(append(canon[:0], 0x00))
	}
	r.sum = sha256.Sum256(canon)
	return canon, r, nil
}

// appendStoredCanonical appends 0x00 and the canonical encoding of e to
// dst, or reports false when e is not in the form the fast way takes.
func appendStoredCanonical(dst []byte, e *StoredEvent) ([]byte, bool) {
	if !canonicalTime(e.At) {
		return dst, false
	}
	dst = append(dst, 0x00)
	dst = append(dst, Version...)
	dst = append(dst, "\nseq="...)
	dst = strconv.AppendUint(dst, e.Seq, 10)
	dst = append(dst, "\nat="...)
	dst = append(dst, e.At...)
	for i, v := range [...][]byte{e.ActorID, e.Role, e.Action, e.SubjectType, e.SubjectID, e.CaseID} {
		dst = append(dst, lineFields[i].canonical...)
		dst = appendEscapedBytes(dst, v)
	}
	dst = append(dst, '\n')
	if p := e.Payload; len(p) > 0 && string(p) != "null" {
		// encoding/json would read invalid UTF-8 as U+FFFD.
		if !utf8.Valid(p) {
			return dst, false
		}
		var ok bool
		if dst, p, ok = appendPayloadObject(dst, p); !ok || len(p) > 0 {
			return dst, false
		}
	}
	return dst, true
}

// appendEscapedBytes is appendEscaped for a byte slice.
func appendEscapedBytes(dst, s []byte) []byte {
	const hexDigits = "0123456789ABCDEF"
	start := 0
	for i := 0; ; i++ {
		i += plainPrefix(s[i:]) // stops at '"' and '\\' too, which are copied
		if i == len(s) {
			return append(dst, s[start:]...)
		}
		if c := s[i]; c < 0x20 || c > 0x7e || c == '%' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&0xf])
			start = i + 1
		}
	}
}
