package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"reflect"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

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
