package audit

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"
)

// ExportFormat names the version of the export format in its header line.
const ExportFormat = "countersign-audit-export/v1"

// MaxExportLine is the longest line, newline excluded, an export may hold.
// Events carry identifiers and hashes only, so real lines are well under
// 4 KiB; the bound keeps a hostile file from exhausting memory.
const MaxExportLine = 1 << 20

// Header is the first line of an export: what log it comes from, how many
// events follow, and the signed checkpoint they can be verified against.
type Header struct {
	Format     string `json:"format"`
	Origin     string `json:"origin"`
	Size       uint64 `json:"size"`
	Checkpoint string `json:"checkpoint"`
}

// exportEvent is one event line. Hashes are hex and the time is in
// TimeFormat, so the line maps one to one onto the canonical encoding.
// Pointers mark the fields a line must hold.
type exportEvent struct {
	Seq         *uint64           `json:"seq"`
	At          *string           `json:"at"`
	ActorID     *string           `json:"actor_id"`
	Role        *string           `json:"role"`
	Action      *string           `json:"action"`
	SubjectType *string           `json:"subject_type"`
	SubjectID   *string           `json:"subject_id"`
	CaseID      string            `json:"case_id"`
	Payload     map[string]string `json:"payload"`
	LeafHash    *string           `json:"leaf_hash"`
	ChainHash   *string           `json:"chain_hash"`
}

// Writer writes an export stream: one header line, then one line per event.
// It holds one event at a time, so exports of any size use constant memory.
type Writer struct {
	w      *bufio.Writer
	buf    bytes.Buffer
	enc    *json.Encoder
	header bool
}

// NewWriter returns a Writer writing to w. Call Flush when done.
func NewWriter(w io.Writer) *Writer {
	ew := &Writer{w: bufio.NewWriterSize(w, 64<<10)}
	ew.enc = json.NewEncoder(&ew.buf)
	// Identifiers never need HTML escaping, and "<" reads better than "\u003c".
	ew.enc.SetEscapeHTML(false)
	return ew
}

// WriteHeader writes the header line. It must be called once, first. An
// empty Format is set to ExportFormat.
func (w *Writer) WriteHeader(h Header) error {
	if w.header {
		return errors.New("export header written twice")
	}
	if h.Format == "" {
		h.Format = ExportFormat
	}
	if !utf8.ValidString(h.Origin) || !utf8.ValidString(h.Checkpoint) {
		return errors.New("export header is not valid UTF-8")
	}
	w.header = true
	return w.writeLine(h)
}

// WriteEvent writes one event line. It refuses text that is not valid UTF-8,
// because JSON would silently replace it and the export would no longer
// verify.
func (w *Writer) WriteEvent(e *Event) error {
	if !w.header {
		return errors.New("export event written before the header")
	}
	at := e.At.UTC().Format(TimeFormat)
	leaf, chain := hex.EncodeToString(e.LeafHash), hex.EncodeToString(e.ChainHash)
	x := exportEvent{
		Seq: &e.Seq, At: &at, ActorID: &e.ActorID, Role: &e.Role, Action: &e.Action,
		SubjectType: &e.SubjectType, SubjectID: &e.SubjectID, CaseID: e.CaseID,
		Payload: e.Payload, LeafHash: &leaf, ChainHash: &chain,
	}
	if x.Payload == nil {
		x.Payload = Payload{}
	}
	for _, s := range []string{e.ActorID, e.Role, e.Action, e.SubjectType, e.SubjectID, e.CaseID} {
		if !utf8.ValidString(s) {
			return fmt.Errorf("export event %d: text is not valid UTF-8", e.Seq)
		}
	}
	for k, v := range e.Payload {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("export event %d: payload is not valid UTF-8", e.Seq)
		}
	}
	if err := w.writeLine(x); err != nil {
		return fmt.Errorf("export event %d: %w", e.Seq, err)
	}
	return nil
}

func (w *Writer) writeLine(v any) error {
	w.buf.Reset()
	if err := w.enc.Encode(v); err != nil { // Encode appends the '\n'
		return err
	}
	if w.buf.Len()-1 > MaxExportLine {
		return fmt.Errorf("line of %d bytes exceeds the export limit of %d", w.buf.Len()-1, MaxExportLine)
	}
	_, err := w.w.Write(w.buf.Bytes())
	return err
}

// Flush writes any buffered data to the underlying writer.
func (w *Writer) Flush() error {
	return w.w.Flush()
}

// FormatError reports a line of an export that cannot be read. Line counts
// from 1, the header being line 1.
type FormatError struct {
	Line int
	Msg  string
	Err  error
}

// Error implements the error interface.
func (e *FormatError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("export line %d: %s: %v", e.Line, e.Msg, e.Err)
	}
	return fmt.Sprintf("export line %d: %s", e.Line, e.Msg)
}

// Unwrap returns the underlying error, if any.
func (e *FormatError) Unwrap() error { return e.Err }

// Reader reads an export stream line by line with a bounded buffer. It
// checks the form of every line (valid UTF-8, one JSON object with exactly
// the known fields, hex hashes of 32 bytes, times in TimeFormat) but not the
// hashes themselves: that is the Verifier's job.
type Reader struct {
	lr     lineReader
	header Header
	err    error
}

// NewReader reads and checks the header line of an export. Returns a
// *FormatError if it is missing or malformed.
func NewReader(r io.Reader) (*Reader, error) {
	er := &Reader{lr: lineReader{r: r}}
	line, err := er.lr.next()
	if err == io.EOF {
		return nil, &FormatError{Line: 1, Msg: "the export is empty; it must start with a header line"}
	} else if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var h struct {
		Format     *string `json:"format"`
		Origin     *string `json:"origin"`
		Size       *uint64 `json:"size"`
		Checkpoint *string `json:"checkpoint"`
	}
	if err := decodeOnly(dec, &h); err != nil {
		return nil, &FormatError{Line: 1, Msg: "the header is not a valid JSON object", Err: err}
	}
	if h.Format == nil || h.Origin == nil || h.Size == nil || h.Checkpoint == nil {
		return nil, &FormatError{Line: 1, Msg: "the header needs format, origin, size and checkpoint"}
	}
	if *h.Format != ExportFormat {
		return nil, &FormatError{Line: 1, Msg: fmt.Sprintf("unknown export format %q, expected %q", *h.Format, ExportFormat)}
	}
	er.header = Header{Format: *h.Format, Origin: *h.Origin, Size: *h.Size, Checkpoint: *h.Checkpoint}
	return er, nil
}

// Header returns the export's header.
func (r *Reader) Header() Header { return r.header }

// Line returns the number of the last line read.
func (r *Reader) Line() int { return r.lr.line }

// Next returns the next event, io.EOF after the last one, or a *FormatError
// naming the line that cannot be read. After an error it keeps returning it.
func (r *Reader) Next() (*Event, error) {
	if r.err != nil {
		return nil, r.err
	}
	e, err := r.next()
	if err != nil {
		r.err = err
	}
	return e, err
}

func (r *Reader) next() (*Event, error) {
	line, err := r.lr.next()
	if err != nil {
		return nil, err
	}
	return parseLine(line, r.lr.line)
}

// lineReader cuts an export into lines: LF ends a line, a CR just before
// it is dropped, and the last line may lack its LF. It reads either one
// line at a time (next: the header, Reader.Next) or, for the verifier, a
// block of whole lines at a time (fill), leaving the splitting and the
// checks of each line to the verifier's workers.
type lineReader struct {
	r     io.Reader
	buf   []byte // buf[start:end] was read but not handed out yet
	start int
	end   int
	eof   bool  // r reported io.EOF
	rerr  error // r failed: the stream ends with this error
	line  int   // lines handed out so far
	size  int   // of the blocks fill reads; 0 for blockSize
}

// read reads more into buf[end:], which must have room.
func (lr *lineReader) read() {
	for range 100 {
		n, err := lr.r.Read(lr.buf[lr.end:])
		lr.end += n
		if err == io.EOF {
			lr.eof = true
			return
		} else if err != nil {
			lr.rerr = err
			return
		}
		if n > 0 {
			return
		}
	}
	lr.rerr = io.ErrNoProgress
}

// readErr is the error that ends the stream after lr.line lines.
func (lr *lineReader) readErr() error {
	if lr.rerr != nil {
		return fmt.Errorf("read export after line %d: %w", lr.line, lr.rerr)
	}
	return io.EOF
}

// next returns the next line, checked (see checkLine), io.EOF at the end,
// or an error: a *FormatError for a line that is too long, empty or not
// UTF-8, or the reading error.
func (lr *lineReader) next() ([]byte, error) {
	for {
		data := lr.buf[lr.start:lr.end]
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			lr.start += i + 1
			lr.line++
			return dropCR(data[:i]), checkLine(data[:i], lr.line)
		}
		if len(data) > MaxExportLine {
			return nil, tooLong(lr.line + 1)
		}
		if lr.rerr != nil {
			return nil, lr.readErr()
		}
		if lr.eof {
			if len(data) == 0 {
				return nil, io.EOF
			}
			lr.start = lr.end
			lr.line++
			return dropCR(data), checkLine(data, lr.line)
		}
		// Make room: move the partial line to the front, or grow.
		if lr.start > 0 {
			lr.end = copy(lr.buf, data)
			lr.start = 0
		}
		if lr.end == len(lr.buf) {
			lr.buf = append(lr.buf, make([]byte, max(64<<10, len(lr.buf)))...)
			lr.buf = lr.buf[:min(cap(lr.buf), MaxExportLine+1)]
		}
		lr.read()
	}
}

// blockSize is the size of the blocks of whole lines handed to the
// verifier's workers: about 800 lines of a typical export.
const blockSize = 256 << 10

// fill reads the next block of whole lines into b.block (reused from batch
// to batch), sets b.lines to them and b.firstLine to the number of the
// first, and returns the error that ends the stream after this block
// (io.EOF, or a reading error), or nil. A line too long for the limit is
// handed on as it is, for the worker to report, and ends the stream.
func (lr *lineReader) fill(b *batch) error {
	size := cmp.Or(lr.size, blockSize)
	// What was read but not handed out (a partial line) goes first. It may
	// lie in the block of a batch still being verified: only this goroutine
	// writes into blocks, and a worker never reads past its own lines.
	if n := max(size, lr.end-lr.start); cap(b.block) < n {
		b.block = make([]byte, n)
	}
	blk := b.block[:max(size, lr.end-lr.start)]
	n := copy(blk, lr.buf[lr.start:lr.end])
	lr.buf, lr.start, lr.end = blk, 0, n
	var end error
	for {
		for lr.end < len(lr.buf) && !lr.eof && lr.rerr == nil {
			lr.read()
		}
		data := lr.buf[:lr.end]
		cut := bytes.LastIndexByte(data, '\n') + 1
		if lr.eof {
			cut = len(data) // the last line may lack its LF
		} else if cut == 0 && lr.rerr == nil {
			if len(data) <= MaxExportLine {
				// One line fills the block: grow it, up to the limit.
				bigger := make([]byte, min(2*len(lr.buf), MaxExportLine+1))
				copy(bigger, data)
				b.block, lr.buf = bigger, bigger
				continue
			}
			cut, end = len(data), io.EOF
		}
		b.lines, lr.start = data[:cut], cut
		if lr.rerr != nil {
			lr.start = lr.end // the partial line before a reading error is dropped
		}
		break
	}
	b.firstLine = lr.line + 1
	lr.line += bytes.Count(b.lines, []byte{'\n'})
	if k := len(b.lines); k > 0 && b.lines[k-1] != '\n' {
		lr.line++
	}
	if end == nil && (lr.eof || lr.rerr != nil) && lr.start == lr.end {
		end = lr.readErr()
	}
	return end
}

// cutLine returns the first line of block (without its LF, and a CR before
// it) and the rest.
func cutLine(block []byte) (line, rest []byte) {
	if i := bytes.IndexByte(block, '\n'); i >= 0 {
		line, rest = block[:i], block[i+1:]
	} else {
		line = block
	}
	return line, rest
}

// checkLine drops the CR at the end of a line, if any, and checks that the
// line is neither too long, nor empty, nor invalid UTF-8. encoding/json
// would replace invalid UTF-8 with U+FFFD, changing the data under the
// hash, so it is refused instead.
func checkLine(raw []byte, lineNo int) error {
	if len(raw) > MaxExportLine {
		return tooLong(lineNo)
	}
	line := dropCR(raw)
	if !utf8.Valid(line) {
		return &FormatError{Line: lineNo, Msg: "line is not valid UTF-8"}
	}
	if len(line) == 0 {
		return &FormatError{Line: lineNo, Msg: "line is empty"}
	}
	return nil
}

func dropCR(line []byte) []byte {
	if len(line) > 0 && line[len(line)-1] == '\r' {
		return line[:len(line)-1]
	}
	return line
}

func tooLong(lineNo int) error {
	return &FormatError{Line: lineNo, Msg: fmt.Sprintf("line is longer than %d bytes", MaxExportLine)}
}

// parseLine parses event line number lineNo of an export.
func parseLine(line []byte, lineNo int) (*Event, error) {
	x, ok := parseFast(line)
	if !ok {
		var err error
		if x, err = parseSlow(line); err != nil {
			return nil, &FormatError{Line: lineNo, Msg: "not a valid event object", Err: err}
		}
	}
	e, err := x.event()
	if err != nil {
		return nil, &FormatError{Line: lineNo, Msg: "invalid event", Err: err}
	}
	return e, nil
}

// rawEvent is an event line decoded but not yet checked.
type rawEvent struct {
	seq                                                     uint64
	at, actor, role, action, subjectType, subjectID, caseID string
	payload                                                 Payload
	leaf, chain                                             string
}

// parseSlow decodes any JSON form of an event line with encoding/json,
// refusing unknown and missing fields.
func parseSlow(line []byte) (rawEvent, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var x exportEvent
	if err := decodeOnly(dec, &x); err != nil {
		return rawEvent{}, err
	}
	if x.Seq == nil || x.At == nil || x.ActorID == nil || x.Role == nil || x.Action == nil ||
		x.SubjectType == nil || x.SubjectID == nil || x.LeafHash == nil || x.ChainHash == nil {
		return rawEvent{}, errors.New("an event needs seq, at, actor_id, role, action, subject_type, subject_id, leaf_hash and chain_hash")
	}
	return rawEvent{
		seq: *x.Seq, at: *x.At, actor: *x.ActorID, role: *x.Role, action: *x.Action,
		subjectType: *x.SubjectType, subjectID: *x.SubjectID, caseID: x.CaseID,
		payload: x.Payload, leaf: *x.LeafHash, chain: *x.ChainHash,
	}, nil
}

// parseFast decodes a line in exactly the form Writer writes it when no
// string needs a JSON escape, about ten times faster than encoding/json. It
// reports false for any other form, and the caller then uses parseSlow, so
// both accept the same lines and read them the same way (FuzzFastLine
// checks this); only the speed differs.
func parseFast(line []byte) (rawEvent, bool) {
	// One string for the whole line: every field is a substring of it, so
	// a line costs one allocation instead of one per field.
	c := cursor{b: line, s: string(line), ok: true}
	var x rawEvent
	c.lit(`{"seq":`)
	x.seq = c.uint()
	c.lit(`,"at":`)
	x.at = c.str()
	c.lit(`,"actor_id":`)
	x.actor = c.str()
	c.lit(`,"role":`)
	x.role = c.str()
	c.lit(`,"action":`)
	x.action = c.str()
	c.lit(`,"subject_type":`)
	x.subjectType = c.str()
	c.lit(`,"subject_id":`)
	x.subjectID = c.str()
	c.lit(`,"case_id":`)
	x.caseID = c.str()
	c.lit(`,"payload":{`)
	x.payload = Payload{}
	for c.ok && c.i < len(c.b) && c.b[c.i] != '}' {
		if len(x.payload) > 0 {
			c.lit(",")
		}
		k := c.str()
		c.lit(":")
		x.payload[k] = c.str() // a repeated key keeps the last value, as encoding/json does
	}
	c.lit(`},"leaf_hash":`)
	x.leaf = c.str()
	c.lit(`,"chain_hash":`)
	x.chain = c.str()
	c.lit("}")
	return x, c.ok && c.i == len(c.b)
}

// cursor walks a line for parseFast; ok turns false at the first surprise.
type cursor struct {
	b  []byte
	s  string // the same bytes as b
	i  int
	ok bool
}

func (c *cursor) lit(s string) {
	if c.ok && bytes.HasPrefix(c.b[c.i:], []byte(s)) {
		c.i += len(s)
		return
	}
	c.ok = false
}

// str reads a JSON string without escapes or control characters (the line
// is already known to be valid UTF-8).
func (c *cursor) str() string {
	if !c.ok || c.i >= len(c.b) || c.b[c.i] != '"' {
		c.ok = false
		return ""
	}
	for j := c.i + 1; j < len(c.b); j++ {
		switch b := c.b[j]; {
		case b == '"':
			s := c.s[c.i+1 : j]
			c.i = j + 1
			return s
		case b == '\\' || b < 0x20:
			c.ok = false
			return ""
		}
	}
	c.ok = false
	return ""
}

// uint reads a JSON number that is a uint64: no sign, fraction, exponent,
// leading zero or overflow.
func (c *cursor) uint() uint64 {
	j := c.i
	for j < len(c.b) && c.b[j] >= '0' && c.b[j] <= '9' {
		j++
	}
	if !c.ok || j == c.i || (c.b[c.i] == '0' && j > c.i+1) {
		c.ok = false
		return 0
	}
	n, err := strconv.ParseUint(c.s[c.i:j], 10, 64)
	if err != nil {
		c.ok = false
		return 0
	}
	c.i = j
	return n
}

// event checks the time and hashes of x and builds the Event.
func (x *rawEvent) event() (*Event, error) {
	at, err := ParseTime(x.at)
	if err != nil {
		return nil, err
	}
	leaf, err := decodeHash(x.leaf)
	if err != nil {
		return nil, fmt.Errorf("leaf_hash: %w", err)
	}
	chain, err := decodeHash(x.chain)
	if err != nil {
		return nil, fmt.Errorf("chain_hash: %w", err)
	}
	return &Event{
		Seq: x.seq, At: at, ActorID: x.actor, Role: x.role, Action: x.action,
		SubjectType: x.subjectType, SubjectID: x.subjectID, CaseID: x.caseID,
		Payload: x.payload, LeafHash: leaf, ChainHash: chain,
	}, nil
}

// decodeOnly decodes exactly one JSON object and nothing after it.
func decodeOnly(dec *json.Decoder, v any) error {
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the object")
	}
	return nil
}

func decodeHash(s string) ([]byte, error) {
	if len(s) != 2*32 {
		return nil, fmt.Errorf("hash must be 64 hex digits, got %d characters", len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("hash is not hex: %w", err)
	}
	return b, nil
}

// The verifier's fast path turns an event line straight into the leaf's
// canonical encoding, without building an Event. It takes only lines in
// exactly the form Writer writes when no string needs a JSON escape
// (fields in order, payload keys in strictly increasing order, as
// encoding/json sorts map keys), where each field maps one to one onto a
// line of the canonical encoding. Any other line, a valid one in another
// form or an invalid one, goes the general way (parseLine, then
// AppendCanonical), so both accept the same lines and give the same leaf;
// FuzzCanonicalLine checks this.

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
