package audit_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/countersign/countersign/audit"
)

// mustExport writes events and the checkpoint as an export.
func mustExport(tb testing.TB, events []*audit.Event, cp *audit.Checkpoint) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := audit.NewWriter(&buf)
	h := audit.Header{Origin: testOrigin, Size: uint64(len(events))}
	if cp != nil {
		h.Checkpoint = string(cp.Note)
	}
	if err := w.WriteHeader(h); err != nil {
		tb.Fatal(err)
	}
	for _, e := range events {
		if err := w.WriteEvent(e); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// readAll reads a whole export, returning the events read before any error.
func readAll(data []byte) (audit.Header, []*audit.Event, error) {
	r, err := audit.NewReader(bytes.NewReader(data))
	if err != nil {
		return audit.Header{}, nil, err
	}
	var out []*audit.Event
	for {
		e, err := r.Next()
		if err == io.EOF {
			return r.Header(), out, nil
		} else if err != nil {
			return r.Header(), out, err
		}
		out = append(out, e)
	}
}

func sameEvent(a, b *audit.Event) bool {
	return a.Seq == b.Seq && bytes.Equal(a.Canonical(), b.Canonical()) &&
		bytes.Equal(a.LeafHash, b.LeafHash) && bytes.Equal(a.ChainHash, b.ChainHash)
}

func TestExport(t *testing.T) {
	t.Parallel()
	l := mustBuildLog(t, 20)
	cp := l.mustCheckpoint(t, 20)

	t.Run("RoundTripsEventsAndHeader", func(t *testing.T) {
		t.Parallel()
		events := l.copies()
		events[4].Payload = nil
		events[5].Payload["note"] = "tab\there <b>&é\u2028"
		// Rebuild hashes so the edited events still verify.
		h := audit.NewHead()
		for _, e := range events {
			if _, err := h.Append(e); err != nil {
				t.Fatal(err)
			}
		}
		recp, err := audit.SignCheckpoint(l.signer, testOrigin, h)
		if err != nil {
			t.Fatal(err)
		}
		data := mustExport(t, events, recp)
		if n := bytes.Count(data, []byte("\n")); n != 21 {
			t.Fatalf("%d lines, want 21", n)
		}
		hdr, got, err := readAll(data)
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Format != audit.ExportFormat || hdr.Origin != testOrigin || hdr.Size != 20 || hdr.Checkpoint != string(recp.Note) {
			t.Fatalf("header %+v", hdr)
		}
		if len(got) != len(events) {
			t.Fatalf("%d events, want %d", len(got), len(events))
		}
		for i := range got {
			if !sameEvent(got[i], events[i]) {
				t.Fatalf("event %d differs:\n%s\n%s", i, got[i].Canonical(), events[i].Canonical())
			}
		}
		rep, err := (&audit.Verifier{Origin: testOrigin, Keys: l.keys}).VerifyExport(context.Background(), bytes.NewReader(data))
		if err != nil || !rep.OK {
			t.Fatalf("verify: %+v, %v", rep, err)
		}
	})

	t.Run("WritesTheDocumentedLine", func(t *testing.T) {
		t.Parallel()
		data := mustExport(t, l.events[:1], cp)
		line := strings.Split(string(data), "\n")[1]
		want := `{"seq":0,"at":"2026-03-01T09:00:00.000000000Z","actor_id":"usr_0000","role":"worker","action":"draft.requested","subject_type":"draft","subject_id":"drf_000000","case_id":"","payload":{"content_sha256":"` +
			strings.Repeat("0", 64) + `","kind":"summary","model":"extractive"},"leaf_hash":"`
		if !strings.HasPrefix(line, want) || !strings.Contains(line, `"chain_hash":"`) {
			t.Fatalf("line:\n%s\nwant prefix:\n%s", line, want)
		}
	})

	t.Run("WriterRefusesWhatCannotRoundTrip", func(t *testing.T) {
		t.Parallel()
		w := audit.NewWriter(io.Discard)
		if err := w.WriteEvent(l.events[0]); err == nil {
			t.Fatal("event before header accepted")
		}
		if err := w.WriteHeader(audit.Header{Origin: testOrigin}); err != nil {
			t.Fatal(err)
		}
		bad := copyEvent(l.events[0])
		bad.Payload["x"] = "\xff"
		if err := w.WriteEvent(bad); err == nil {
			t.Fatal("invalid UTF-8 accepted")
		}
		bad = copyEvent(l.events[0])
		bad.Payload["x"] = strings.Repeat("a", audit.MaxExportLine)
		if err := w.WriteEvent(bad); err == nil {
			t.Fatal("overlong line accepted")
		}
	})

	t.Run("ReaderRefusesMalformedLinesNamingTheLine", func(t *testing.T) {
		t.Parallel()
		data := mustExport(t, l.events[:3], cp)
		lines := strings.SplitAfter(string(data), "\n")
		header, ev := lines[0], lines[1]
		withEvent := func(s string) string { return header + s + "\n" }
		replace := func(old, new string) string {
			return withEvent(strings.Replace(strings.TrimSuffix(ev, "\n"), old, new, 1))
		}
		for _, tc := range []struct {
			name  string
			input string
			line  int
		}{
			{"Empty", "", 1},
			{"HeaderNotJSON", "format: v1\n", 1},
			{"HeaderUnknownField", strings.Replace(header, `"format"`, `"extra":1,"format"`, 1), 1},
			{"HeaderWrongFormat", strings.Replace(header, "export/v1", "export/v9", 1), 1},
			{"HeaderMissingCheckpoint", `{"format":"countersign-audit-export/v1","origin":"o","size":0}` + "\n", 1},
			{"HeaderIsAnArray", "[]\n", 1},
			{"EventNotJSON", header + ev + lines[2] + "{seq:2}\n", 4},
			{"EventIsNull", withEvent("null"), 2},
			{"EventMissingLeafHash", replace(`"leaf_hash"`, `"leaf_hash_x"`), 2},
			{"EventUnknownField", replace(`"seq"`, `"extra":"x","seq"`), 2},
			{"EventTimeWithoutNanoseconds", replace(`09:00:00.000000000Z`, `09:00:00Z`), 2},
			{"EventTimeWithOffset", replace(`09:00:00.000000000Z`, `09:00:00.000000000+01:00`), 2},
			{"EventNegativeSeq", replace(`"seq":0`, `"seq":-1`), 2},
			{"EventFractionalSeq", replace(`"seq":0`, `"seq":0.5`), 2},
			{"EventShortHash", replace(`"leaf_hash":"`, `"leaf_hash":"00`), 2},
			{"EventNonHexHash", nonHexHash(withEvent(strings.TrimSuffix(ev, "\n"))), 2},
			{"EventPayloadNotStrings", replace(`"kind":"summary"`, `"kind":1`), 2},
			{"EventInvalidUTF8", replace(`usr_0000`, "usr_\xff"), 2},
			{"EventTrailingData", withEvent(strings.TrimSuffix(ev, "\n") + " {}"), 2},
			{"BlankLine", header + "\n" + ev, 2},
			{"HugeLine", header + strings.Repeat(" ", audit.MaxExportLine+10) + "\n", 2},
			{"HugeLastLineWithoutNewline", header + ev + strings.Repeat("x", audit.MaxExportLine+1), 3},
		} {
			_, _, err := readAll([]byte(tc.input))
			var fe *audit.FormatError
			if !errors.As(err, &fe) || fe.Line != tc.line {
				t.Errorf("%s: err = %v, want a FormatError on line %d", tc.name, err, tc.line)
			}
		}
	})

	t.Run("ReaderAcceptsAMissingFinalNewlineAndCRLF", func(t *testing.T) {
		t.Parallel()
		data := mustExport(t, l.events[:3], cp)
		for name, in := range map[string][]byte{
			"NoFinalNewline": bytes.TrimSuffix(data, []byte("\n")),
			"CRLF":           bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n")),
		} {
			_, got, err := readAll(in)
			if err != nil || len(got) != 3 {
				t.Errorf("%s: %d events, %v", name, len(got), err)
			}
		}
	})
}

// nonHexHash replaces the first two hex digits of the leaf hash with "zz".
func nonHexHash(s string) string {
	i := strings.Index(s, `"leaf_hash":"`) + len(`"leaf_hash":"`)
	return s[:i] + "zz" + s[i+2:]
}

// FuzzExportReader feeds arbitrary bytes to the export reader. It must never
// panic, must report every refusal as a *FormatError, and whatever it
// accepts must survive a write and a second read unchanged. The seed corpus
// in testdata/fuzz/FuzzExportReader runs with every `go test`.
func FuzzExportReader(f *testing.F) {
	l := mustBuildLog(f, 3)
	f.Add(mustExport(f, l.events, l.mustCheckpoint(f, 3)))
	f.Fuzz(func(t *testing.T, data []byte) {
		hdr, events, err := readAll(data)
		if err != nil {
			var fe *audit.FormatError
			if !errors.As(err, &fe) || fe.Line < 1 {
				t.Fatalf("refusal is not a FormatError with a line: %v", err)
			}
			return
		}
		var buf bytes.Buffer
		w := audit.NewWriter(&buf)
		if err := w.WriteHeader(hdr); err != nil {
			t.Fatalf("rewrite header: %v", err)
		}
		for _, e := range events {
			if err := w.WriteEvent(e); err != nil {
				if strings.Contains(err.Error(), "exceeds the export limit") {
					return // JSON escaping may lengthen a line already near the limit
				}
				t.Fatalf("rewrite event %d: %v", e.Seq, err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		hdr2, events2, err := readAll(buf.Bytes())
		if err != nil {
			t.Fatalf("reread: %v\n%s", err, buf.Bytes())
		}
		if hdr2 != hdr || len(events2) != len(events) {
			t.Fatalf("reread differs: %+v vs %+v, %d vs %d events", hdr2, hdr, len(events2), len(events))
		}
		for i := range events {
			if !sameEvent(events[i], events2[i]) {
				t.Fatalf("event %d differs after a round trip", i)
			}
		}
	})
}
