package audit

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// FuzzFastParse is the fast parser's oracle: the general parser. For any
// export line, and any stored columns, the fast parser (fastparse.go) gives
// exactly what the general way gives, the same leaf, seq and stored
// hashes, or the same error, and where it takes the input, the same
// canonical encoding; so the fast parser can never make the verifier see
// different data. Its time check is held to its definition, what
// time.Parse accepts in TimeFormat and formats back unchanged.
func FuzzFastParse(f *testing.F) {
	lines := canonicalLineSeeds(f)
	for i := range max(len(lines), len(storedSeeds)) {
		s := storedSeeds[i%len(storedSeeds)]
		f.Add([]byte(lines[i%len(lines)]), s.seq, s.at, s.actor, s.caseID, s.payload)
	}
	f.Fuzz(func(t *testing.T, line []byte, seq uint64, at, actor, caseID, payload string) {
		checkFastLine(t, line)
		checkFastStored(t, &StoredEvent{Seq: seq, At: []byte(at), ActorID: []byte(actor), Role: []byte("worker"), Action: []byte("note.added"),
			SubjectType: []byte("note"), SubjectID: []byte("note_1"), CaseID: []byte(caseID), Payload: []byte(payload),
			LeafHash: make([]byte, 32), ChainHash: []byte{1}})
		parsed, err := time.Parse(TimeFormat, at)
		if want := err == nil && parsed.Format(TimeFormat) == at; canonicalTime([]byte(at)) != want {
			t.Fatalf("canonicalTime(%q) = %v, want %v (%v)", at, !want, want, err)
		}
	})
}

// checkFastLine compares the export line door with parseLine, then
// Event.AppendCanonical.
func checkFastLine(t *testing.T, line []byte) {
	t.Helper()
	if checkLine(line, 2) != nil {
		return // refused before parsing
	}
	line = dropCR(line)
	canon, x, fastOK := appendLineCanonical(nil, line)
	_, got, err := eventLeaf(line, 2, nil)
	e, werr := parseLine(line, 2)
	if werr != nil {
		if fastOK {
			t.Fatalf("fast parser accepted a line the general parser refuses (%v): %s", werr, line)
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
}

// checkFastStored compares the stored columns door with decoding the
// columns into an Event as sqlstore does (StoredEvent.event), then
// Event.AppendCanonical.
func checkFastStored(t *testing.T, e *StoredEvent) {
	t.Helper()
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
}

// storedSeeds are stored columns in the fast form and near misses, and
// times in and out of TimeFormat.
var storedSeeds = func() []struct {
	seq                        uint64
	at, actor, caseID, payload string
} {
	type row = struct {
		seq                        uint64
		at, actor, caseID, payload string
	}
	const at = "2026-03-01T09:01:01.500000000Z"
	seeds := []row{
		{3, at, "usr_1", "case_1", `{"a":"1","b":"x%é"}`},
		{3, "2026-03-01T9:01:01.500000000Z", "usr_1", "", `{}`},
		{3, "2026-03-01T09:01:01.5Z", "usr_1", "", ``},
		{3, at, "u\x00\xff", "", `null`},
		{3, at, "usr_1", "", `{"b":"1","a":"2"}`},
		{3, at, "usr_1", "", `{"a":"1","a":"2"}`},
		{3, at, "usr_1", "", `{"a":"\u003c"}`},
		{3, at, "usr_1", "", "{\"a\":\"\xff\"}"},
		{3, at, "usr_1", "", `{"a":1}`},
		{3, at, "usr_1", "", `{"a":"1"} `},
	}
	for _, at := range []string{"0000-02-29T00:00:00.000000000Z", "1900-02-29T00:00:00.000000000Z", "2000-02-29T23:59:59.999999999Z",
		"2026-04-31T00:00:00.000000000Z", "2026-12-31T23:59:60.000000000Z", "2026-00-10T00:00:00.000000000Z", "2026-01-10T00:00:00,000000000Z",
		"2026-01-10T0:00:00.0000000000Z", "+026-01-10T00:00:00.000000000Z", "2026-01-10 00:00:00.000000000Z"} {
		seeds = append(seeds, row{7, at, "usr_1", "", `{}`})
	}
	return seeds
}()

// canonicalLineSeeds are export lines in the fast form, and near misses.
func canonicalLineSeeds(tb testing.TB) []string {
	h := strings.Repeat("ab", 32)
	line := func(seq, at, actor, payload, leaf string) string {
		return `{"seq":` + seq + `,"at":"` + at + `","actor_id":"` + actor + `","role":"worker","action":"draft.generated","subject_type":"draft","subject_id":"drf_1","case_id":"case_1","payload":` +
			payload + `,"leaf_hash":"` + leaf + `","chain_hash":"` + h + `"}`
	}
	const at = "2026-03-01T09:01:01.500000000Z"
	seeds := []string{
		`{"seq":41,"at":"2026-03-01T09:01:01.500000000Z","actor_id":"usr_0006","role":"worker","action":"draft.generated","subject_type":"draft","subject_id":"drf_000041","case_id":"case_008","payload":{"kind":"summary","model":"x"},"leaf_hash":"00","chain_hash":"11"}`,
		`{"seq":0,"at":"","actor_id":"","role":"","action":"","subject_type":"","subject_id":"","case_id":"","payload":{},"leaf_hash":"","chain_hash":""}`,
		`{"seq":01,"at":"","actor_id":"","role":"","action":"","subject_type":"","subject_id":"","case_id":"","payload":{"a":"1","a":"2"},"leaf_hash":"","chain_hash":""}`,
		`{"seq":18446744073709551616,"at":"","actor_id":"é<>","role":"","action":"","subject_type":"","subject_id":"","case_id":"","payload":{"":""},"leaf_hash":"","chain_hash":""}`,
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
	}
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
	e.Payload["a"] = "x\ny" // a JSON escape: the general way
	if err := w.WriteEvent(e); err != nil {
		tb.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	lines := strings.Split(buf.String(), "\n")
	return append(seeds, lines[2], lines[1])
}

// TestCanonicalLineTakesTheWritersLines checks that the fast parser takes
// the lines it is for, so that the fast way is the one taken.
func TestCanonicalLineTakesTheWritersLines(t *testing.T) {
	t.Parallel()
	seeds := canonicalLineSeeds(t)
	for _, s := range []string{seeds[4], seeds[5], seeds[6], seeds[8], seeds[11], seeds[17], seeds[len(seeds)-1]} {
		if _, _, ok := appendLineCanonical(nil, []byte(s)); !ok {
			t.Errorf("fast parser refuses %s", s)
		}
	}
	for _, s := range []string{seeds[7], seeds[9], seeds[10], seeds[12], seeds[13], seeds[14], seeds[15], seeds[16], seeds[18], seeds[19], seeds[20], seeds[21], seeds[22], seeds[23]} {
		if _, _, ok := appendLineCanonical(nil, []byte(s)); ok {
			t.Errorf("fast parser takes %s", s)
		}
	}
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
