package audit

import (
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzFastLine checks that parseFast, whenever it accepts a line, reads it
// exactly as the encoding/json path does, so the fast path can never make
// the verifier see different data.
func FuzzFastLine(f *testing.F) {
	for _, s := range []string{
		`{"seq":41,"at":"2026-03-01T09:01:01.500000000Z","actor_id":"usr_0006","role":"worker","action":"draft.generated","subject_type":"draft","subject_id":"drf_000041","case_id":"case_008","payload":{"kind":"summary","model":"x"},"leaf_hash":"00","chain_hash":"11"}`,
		`{"seq":0,"at":"","actor_id":"","role":"","action":"","subject_type":"","subject_id":"","case_id":"","payload":{},"leaf_hash":"","chain_hash":""}`,
		`{"seq":01,"at":"","actor_id":"","role":"","action":"","subject_type":"","subject_id":"","case_id":"","payload":{"a":"1","a":"2"},"leaf_hash":"","chain_hash":""}`,
		`{"seq":18446744073709551616,"at":"","actor_id":"é<>","role":"","action":"","subject_type":"","subject_id":"","case_id":"","payload":{"":""},"leaf_hash":"","chain_hash":""}`,
	} {
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
