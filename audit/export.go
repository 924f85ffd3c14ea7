package audit

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
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
	sc     *bufio.Scanner
	line   int
	header Header
	err    error
}

// NewReader reads and checks the header line of an export. Returns a
// *FormatError if it is missing or malformed.
func NewReader(r io.Reader) (*Reader, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxExportLine+1)
	er := &Reader{sc: sc}
	line, err := er.scan()
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
func (r *Reader) Line() int { return r.line }

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
	line, err := r.scan()
	if err != nil {
		return nil, err
	}
	return parseLine(line, r.line)
}

// fillLines fills b with copies of the next lines for the verifier's
// workers to parse; a scanning error (or io.EOF) ends the batch.
func (r *Reader) fillLines(b *batch) {
	var buf []byte
	b.lines = make([][]byte, 0, batchSize)
	for len(b.lines) < batchSize {
		if r.err != nil {
			b.err = r.err
			return
		}
		line, err := r.scan()
		if err != nil {
			r.err, b.err = err, err
			return
		}
		if len(b.lines) == 0 {
			b.firstLine = r.line
		}
		// Lines are copied into pooled chunks; the worker gives them back
		// once it has parsed the lines (events copy what they keep).
		if cap(buf)-len(buf) < len(line) {
			buf = getChunk(len(line))
			b.chunks = append(b.chunks, buf)
		}
		start := len(buf)
		buf = append(buf, line...)
		b.lines = append(b.lines, buf[start:len(buf):len(buf)])
	}
}

const chunkSize = 64 << 10

var chunkPool = sync.Pool{New: func() any { b := make([]byte, 0, chunkSize); return &b }}

func getChunk(n int) []byte {
	if n > chunkSize {
		return make([]byte, 0, n)
	}
	return (*chunkPool.Get().(*[]byte))[:0]
}

func putChunks(chunks [][]byte) {
	for _, c := range chunks {
		if cap(c) == chunkSize {
			c = c[:0]
			chunkPool.Put(&c)
		}
	}
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
	at, err := time.Parse(TimeFormat, x.at)
	var buf [len(TimeFormat)]byte
	if err != nil || string(at.AppendFormat(buf[:0], TimeFormat)) != x.at {
		return nil, fmt.Errorf("time %q is not in the form %s", x.at, TimeFormat)
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

// scan returns the next line, io.EOF at the end, or a *FormatError.
func (r *Reader) scan() ([]byte, error) {
	if !r.sc.Scan() {
		if err := r.sc.Err(); errors.Is(err, bufio.ErrTooLong) {
			return nil, &FormatError{Line: r.line + 1, Msg: fmt.Sprintf("line is longer than %d bytes", MaxExportLine)}
		} else if err != nil {
			return nil, fmt.Errorf("read export after line %d: %w", r.line, err)
		}
		return nil, io.EOF
	}
	r.line++
	line := r.sc.Bytes()
	if len(line) > MaxExportLine {
		return nil, &FormatError{Line: r.line, Msg: fmt.Sprintf("line is longer than %d bytes", MaxExportLine)}
	}
	// encoding/json would replace invalid UTF-8 with U+FFFD, changing the
	// data under the hash; refuse it instead.
	if !utf8.Valid(line) {
		return nil, &FormatError{Line: r.line, Msg: "line is not valid UTF-8"}
	}
	if len(line) == 0 {
		return nil, &FormatError{Line: r.line, Msg: "line is empty"}
	}
	return line, nil
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
