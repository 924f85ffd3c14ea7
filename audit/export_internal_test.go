package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// FuzzFastLine checks that parseFast, whenever it accepts a line, reads it
// exactly as the encoding/json path does, so the fast path can never make
// the verifier see different data.
func FuzzFastLine(f *testing.F) {
	for _, s := range fastLineSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if !utf8.Valid(line) {
			return // Reader refuses such lines before parsing them
		}
		fast, ok := parseFast(line)
		if !ok {
			return
		}
		slow, err := parseSlow(line)
		if err != nil {
			t.Fatalf("fast path accepted a line encoding/json refuses (%v): %s", err, line)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("fast and slow paths differ:\n%+v\n%+v", fast, slow)
		}
	})
}

var fastLineSeeds = []string{
	`{"seq":41,"at":"2026-03-01T09:01:01.500000000Z","actor_id":"usr_0006","role":"worker","action":"draft.generated","subject_type":"draft","subject_id":"drf_000041","case_id":"case_008","payload":{"kind":"summary","model":"x"},"leaf_hash":"00","chain_hash":"11"}`,
	`{"seq":0,"at":"","actor_id":"","role":"","action":"","subject_type":"","subject_id":"","case_id":"","payload":{},"leaf_hash":"","chain_hash":""}`,
	`{"seq":01,"at":"","actor_id":"","role":"","action":"","subject_type":"","subject_id":"","case_id":"","payload":{"a":"1","a":"2"},"leaf_hash":"","chain_hash":""}`,
	`{"seq":18446744073709551616,"at":"","actor_id":"é<>","role":"","action":"","subject_type":"","subject_id":"","case_id":"","payload":{"":""},"leaf_hash":"","chain_hash":""}`,
}

// canonicalLineSeeds are lines in the fast form, and near misses.
func canonicalLineSeeds(tb testing.TB) []string {
	h := strings.Repeat("ab", 32)
	line := func(seq, at, actor, payload, leaf string) string {
		return `{"seq":` + seq + `,"at":"` + at + `","actor_id":"` + actor + `","role":"worker","action":"draft.generated","subject_type":"draft","subject_id":"drf_1","case_id":"case_1","payload":` +
			payload + `,"leaf_hash":"` + leaf + `","chain_hash":"` + h + `"}`
	}
	const at = "2026-03-01T09:01:01.500000000Z"
	seeds := append([]string(nil), fastLineSeeds...)
	seeds = append(seeds,
		line("41", at, "usr_1", `{"kind":"summary","model":"x"}`, h),
		line("0", at, "usr_1", `{}`, h),
		line("18446744073709551615", at, "usr_1", `{"":""}`, strings.ToUpper(h)),
		line("18446744073709551616", at, "usr_1", `{}`, h),
		line("41", at, "é%\u007f\u2028<>&x", `{"a":"x%y","b":"é"}`, h),
		line("41", at, "usr_1", `{"a":"1","a":"2"}`, h),
		line("41", at, "usr_1", `{"b":"1","a":"2"}`, h),
		line("41", at, "usr_1", `{"a":"1","ab":"2","b":"3"}`, h),
		line("41", at, "usr_1", `{"a":"x\u000ay"}`, h),
		line("41", at, `us\"r`, `{}`, h),
		line("41", at, "usr_1", `null`, h),
		line("41", at, "usr_1", `{ }`, h),
		line("41", "2026-02-29T09:01:01.500000000Z", "usr_1", `{}`, h),
		line("41", "2024-02-29T09:01:01.500000000Z", "usr_1", `{}`, h),
		line("41", "2026-03-01T9:01:01.500000000Z", "usr_1", `{}`, h),
		line("41", "2026-03-01T09:01:01,500000000Z", "usr_1", `{}`, h),
		line("41", "2026-03-01T24:01:01.500000000Z", "usr_1", `{}`, h),
		line("41", at, "usr_1", `{}`, "zz"+h[2:]),
		line("41", at, "usr_1", `{}`, h[2:]),
	)
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.WriteHeader(Header{Origin: "o"}); err != nil {
		tb.Fatal(err)
	}
	e := &Event{Seq: 7, At: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), ActorID: "usr_2", Role: "supervisor", Action: "draft.approved",
		SubjectType: "draft", SubjectID: "drf_1", Payload: Payload{"z": "1", "a": "x y%é", "m": "<&>"}, LeafHash: make([]byte, 32), ChainHash: make([]byte, 32)}
	if err := w.WriteEvent(e); err != nil {
		tb.Fatal(err)
	}
	e.Payload["a"] = "x\ny" // a JSON escape: the general path
	if err := w.WriteEvent(e); err != nil {
		tb.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	lines := strings.Split(buf.String(), "\n")
	return append(seeds, lines[2], lines[1])
}

// FuzzCanonicalLine checks that the verifier's fast path, which writes the
// canonical encoding straight from an export line, gives for every line
// that passes the line checks exactly what the general path gives (decode
// the line into an Event, encode that), the same leaf, seq and hashes, or
// the same error.
func FuzzCanonicalLine(f *testing.F) {
	for _, s := range canonicalLineSeeds(f) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if checkLine(line, 2) != nil {
			return // refused before parsing
		}
		line = dropCR(line)
		canon, x, fastOK := appendLineCanonical(nil, line)
		_, got, err := eventLeaf(line, 2, nil)
		e, werr := parseLine(line, 2)
		if werr != nil {
			if fastOK {
				t.Fatalf("fast path accepted a line the general path refuses (%v): %s", werr, line)
			}
			if err == nil || err.Error() != werr.Error() {
				t.Fatalf("error %v, want %v", err, werr)
			}
			return
		}
		_, want, _ := eventRec(e, nil)
		if err != nil || got != want {
			t.Fatalf("line %s:\ngot  %+v %v\nwant %+v", line, got, err, want)
		}
		if fastOK {
			if wantCanon := e.AppendCanonical([]byte{0}); !bytes.Equal(canon, wantCanon) || x.seq != e.Seq {
				t.Fatalf("canonical encodings differ:\n%q\n%q", canon, wantCanon)
			}
		}
	})
}

func TestCanonicalLineTakesTheWritersLines(t *testing.T) {
	t.Parallel()
	seeds := canonicalLineSeeds(t)
	for _, s := range []string{seeds[4], seeds[5], seeds[6], seeds[8], seeds[11], seeds[17], seeds[len(seeds)-1]} {
		if _, _, ok := appendLineCanonical(nil, []byte(s)); !ok {
			t.Errorf("fast path refuses %s", s)
		}
	}
	for _, s := range []string{seeds[7], seeds[9], seeds[10], seeds[12], seeds[13], seeds[14], seeds[15], seeds[16], seeds[18], seeds[19], seeds[20], seeds[21], seeds[22], seeds[23]} {
		if _, _, ok := appendLineCanonical(nil, []byte(s)); ok {
			t.Errorf("fast path takes %s", s)
		}
	}
}

// FuzzCanonicalTime checks canonicalTime against its definition: what
// time.Parse accepts in TimeFormat and formats back unchanged.
func FuzzCanonicalTime(f *testing.F) {
	for _, s := range []string{"2026-03-01T09:01:01.500000000Z", "0000-02-29T00:00:00.000000000Z", "1900-02-29T00:00:00.000000000Z",
		"2000-02-29T23:59:59.999999999Z", "2026-04-31T00:00:00.000000000Z", "2026-12-31T23:59:60.000000000Z", "2026-00-10T00:00:00.000000000Z",
		"2026-01-10T00:00:00,000000000Z", "2026-01-10T0:00:00.0000000000Z", "+026-01-10T00:00:00.000000000Z", "2026-01-10 00:00:00.000000000Z"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		at, err := time.Parse(TimeFormat, string(b))
		want := err == nil && at.Format(TimeFormat) == string(b)
		if got := canonicalTime(b); got != want {
			t.Fatalf("canonicalTime(%q) = %v, want %v (%v)", b, got, want, err)
		}
	})
}

// FuzzStoredEvent checks that the fast path from stored columns gives the
// leaf, or the error, of decoding them into an Event as sqlstore did.
func FuzzStoredEvent(f *testing.F) {
	f.Add(uint64(3), "2026-03-01T09:01:01.500000000Z", "usr_1", "case_1", `{"a":"1","b":"x%é"}`)
	f.Add(uint64(3), "2026-03-01T9:01:01.500000000Z", "usr_1", "", `{}`)
	f.Add(uint64(3), "2026-03-01T09:01:01.5Z", "usr_1", "", ``)
	f.Add(uint64(3), "2026-03-01T09:01:01.500000000Z", "u\x00\xff", "", `null`)
	f.Add(uint64(3), "2026-03-01T09:01:01.500000000Z", "usr_1", "", `{"b":"1","a":"2"}`)
	f.Add(uint64(3), "2026-03-01T09:01:01.500000000Z", "usr_1", "", `{"a":"1","a":"2"}`)
	f.Add(uint64(3), "2026-03-01T09:01:01.500000000Z", "usr_1", "", `{"a":"\u003c"}`)
	f.Add(uint64(3), "2026-03-01T09:01:01.500000000Z", "usr_1", "", "{\"a\":\"\xff\"}")
	f.Add(uint64(3), "2026-03-01T09:01:01.500000000Z", "usr_1", "", `{"a":1}`)
	f.Add(uint64(3), "2026-03-01T09:01:01.500000000Z", "usr_1", "", `{"a":"1"} `)
	f.Fuzz(func(t *testing.T, seq uint64, at, actor, caseID, payload string) {
		e := &StoredEvent{Seq: seq, At: []byte(at), ActorID: []byte(actor), Role: []byte("worker"), Action: []byte("note.added"),
			SubjectType: []byte("note"), SubjectID: []byte("note_1"), CaseID: []byte(caseID), Payload: []byte(payload),
			LeafHash: make([]byte, 32), ChainHash: []byte{1}}
		_, got, err := storedRec(e, nil)
		ev, werr := e.event()
		if werr != nil {
			if err == nil || err.Error() != werr.Error() {
				t.Fatalf("error %v, want %v", err, werr)
			}
			return
		}
		ev.LeafHash, ev.ChainHash = e.LeafHash, e.ChainHash
		_, want, _ := eventRec(ev, nil)
		if err != nil || got != want {
			t.Fatalf("got %+v %v\nwant %+v", got, err, want)
		}
	})
}

// FuzzVerifyExportBlocks checks that verifying an export in blocks of any
// size, cut anywhere in a line, gives the report that reading it line by
// line with Reader.Next and verifying the events gives.
func FuzzVerifyExportBlocks(f *testing.F) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "o.test/audit")
	if err != nil {
		f.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	h := NewHead()
	var buf bytes.Buffer
	var events []*Event
	for i := range 5 {
		e := &Event{At: time.Date(2026, 1, 2, 3, 4, 5, i, time.UTC), ActorID: fmt.Sprintf("usr_%d", i), Role: "worker",
			Action: "note.added", SubjectType: "note", SubjectID: "n", Payload: Payload{"k": "v", "é": "\n"}}
		if _, err := h.Append(e); err != nil {
			f.Fatal(err)
		}
		events = append(events, e)
	}
	cp, err := SignCheckpoint(signer, "o.test/audit", h)
	if err != nil {
		f.Fatal(err)
	}
	w := NewWriter(&buf)
	w.WriteHeader(Header{Origin: "o.test/audit", Size: 5, Checkpoint: string(cp.Note)})
	for _, e := range events {
		w.WriteEvent(e)
	}
	w.Flush()
	data := buf.Bytes()
	f.Add(data, uint16(1))
	f.Add(data, uint16(7))
	f.Add(bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n")), uint16(64))
	f.Add(bytes.TrimSuffix(data, []byte("\n")), uint16(100))
	f.Add(append(bytes.Clone(data), "\r"...), uint16(3))
	f.Add(append(bytes.Clone(data), "\n\n"...), uint16(3))
	f.Add(bytes.Replace(data, []byte("usr_2"), []byte("usr_\xff"), 1), uint16(5))
	f.Add(bytes.Replace(data, []byte(`"k":"v"`), []byte(`"k":"w"`), 1), uint16(500))
	f.Fuzz(func(t *testing.T, data []byte, size uint16) {
		v := &Verifier{Origin: "o.test/audit", Keys: []note.Verifier{verifier}}
		got, gerr := v.verifyExport(context.Background(), bytes.NewReader(data), int(size%2048)+1)
		want, werr := verifyExportByLine(v, data)
		if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
			t.Fatalf("error %v, want %v", gerr, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("report\n%+v\nwant\n%+v", got, want)
		}
	})
}

// verifyExportByLine is VerifyExport as it was before the blocks: Reader.Next
// one line at a time into Verify.
func verifyExportByLine(v *Verifier, data []byte) (*Report, error) {
	er, err := NewReader(bytes.NewReader(data))
	if err != nil {
		return (&Report{}).fail(nil, "the export cannot be read: %v", err), nil
	}
	h := er.Header()
	if h.Origin != v.Origin {
		return (&Report{}).fail(nil, "the export comes from log %q, not %q", h.Origin, v.Origin), nil
	}
	rep, err := v.Verify(context.Background(), er.Next, []byte(h.Checkpoint))
	return checkExportSize(rep, err, h)
}

// TestPlainPrefix checks the eight-bytes-at-a-time scan against the table,
// for every byte value at every place of a word and of the tail.
func TestPlainPrefix(t *testing.T) {
	t.Parallel()
	for c := range 256 {
		for at := range 19 {
			p := bytes.Repeat([]byte("a"), 19)
			p[at] = byte(c)
			want := 19
			if !plain[c] {
				want = at
			}
			if got := plainPrefix(p); got != want {
				t.Fatalf("byte %#x at %d: %d, want %d", c, at, got, want)
			}
		}
	}
}
