package audit

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// parseLine parses event line number lineNo of an export with
// encoding/json, refusing unknown and missing fields. It is the general
// parser: it reads any JSON form of an event line, and the verifier's fast
// parser (fastparse.go) is held to it.
func parseLine(line []byte, lineNo int) (*Event, error) {
	x, err := decodeLine(line)
	if err != nil {
		return nil, &FormatError{Line: lineNo, Msg: "not a valid event object", Err: err}
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

// decodeLine decodes an event line with encoding/json, refusing unknown
// and missing fields.
func decodeLine(line []byte) (rawEvent, error) {
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
