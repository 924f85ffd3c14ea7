package audit_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/audit"
)

func TestVerifier(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type testBundle struct {
		log     *testLog
		cp50    *audit.Checkpoint // over all 50 events
		cp40    *audit.Checkpoint // over the first 40
		since30 *audit.Checkpoint // the board's saved checkpoint
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		l := mustBuildLog(t, 50)
		return &testBundle{log: l, cp50: l.mustCheckpoint(t, 50), cp40: l.mustCheckpoint(t, 40), since30: l.mustCheckpoint(t, 30)}
	}
	b := setup(t)

	// rehash recomputes every hash from event from on, as an attacker
	// without the key but with database access would, to cover his tracks.
	rehash := func(events []*audit.Event) *audit.Head {
		h := audit.NewHead()
		for _, e := range events {
			if _, err := h.Append(e); err != nil {
				t.Fatal(err)
			}
		}
		return h
	}
	resign := func(h *audit.Head) []byte {
		cp, err := audit.SignCheckpoint(b.log.signer, testOrigin, h)
		if err != nil {
			t.Fatal(err)
		}
		return cp.Note
	}
	flip := func(s string, i int) string { c := []byte(s); c[i] ^= 0x01; return string(c) }
	at := func(n uint64) *uint64 { return &n }
	noSeq := (*uint64)(nil)

	for _, tc := range []struct {
		name     string
		tamper   func(events []*audit.Event) ([]*audit.Event, []byte) // nil note: keep cp50
		since    *audit.Checkpoint
		ok       bool
		firstBad *uint64
		problem  string
	}{
		{name: "AcceptsTheUntouchedLog", ok: true},
		{name: "AcceptsTheUntouchedLogWithTheSavedCheckpoint", since: b.since30, ok: true},
		{name: "AcceptsEventsBeyondTheCheckpoint", ok: true, tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) { return ev, b.cp40.Note }},
		{name: "AcceptsTheSavedCheckpointAsTheCheckpoint", since: b.since30, ok: true, tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) { return ev, b.since30.Note }},

		{name: "DetectsAChangedActor", firstBad: at(41), problem: "event 41: leaf hash does not match its contents",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) {
				ev[41].ActorID = flip(ev[41].ActorID, 4)
				return ev, nil
			}},
		{name: "DetectsAChangedRole", firstBad: at(41), problem: "leaf hash",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) { ev[41].Role = flip(ev[41].Role, 0); return ev, nil }},
		{name: "DetectsAChangedAction", firstBad: at(41), problem: "leaf hash",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) {
				ev[41].Action = flip(ev[41].Action, 6)
				return ev, nil
			}},
		{name: "DetectsAChangedSubjectType", firstBad: at(41), problem: "leaf hash",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) {
				ev[41].SubjectType = flip(ev[41].SubjectType, 1)
				return ev, nil
			}},
		{name: "DetectsAChangedSubjectID", firstBad: at(41), problem: "leaf hash",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) {
				ev[41].SubjectID = flip(ev[41].SubjectID, 9)
				return ev, nil
			}},
		{name: "DetectsAChangedCase", firstBad: at(41), problem: "leaf hash",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) {
				ev[41].CaseID = flip(ev[41].CaseID, 7)
				return ev, nil
			}},
		{name: "DetectsARemovedCase", firstBad: at(41), problem: "leaf hash",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) { ev[41].CaseID = ""; return ev, nil }},
		{name: "DetectsAChangedPayloadValue", firstBad: at(41), problem: "leaf hash",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) {
				ev[41].Payload["model"] = flip(ev[41].Payload["model"], 0)
				return ev, nil
			}},
		{name: "DetectsAChangedPayloadKey", firstBad: at(41), problem: "leaf hash",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) {
				ev[41].Payload["kinf"] = ev[41].Payload["kind"]
				delete(ev[41].Payload, "kind")
				return ev, nil
			}},
		{name: "DetectsAnAddedPayloadEntry", firstBad: at(41), problem: "leaf hash",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) { ev[41].Payload["extra"] = ""; return ev, nil }},
		{name: "DetectsATimeChangedByOneNanosecond", firstBad: at(41), problem: "leaf hash",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) {
				ev[41].At = ev[41].At.Add(time.Nanosecond)
				return ev, nil
			}},
		{name: "DetectsAChangedSeq", firstBad: at(41), problem: "event 41 is missing",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) { ev[41].Seq ^= 0x02; return ev, nil }},
		{name: "DetectsAChangedLeafHash", firstBad: at(41), problem: "leaf hash",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) { ev[41].LeafHash[31] ^= 0x80; return ev, nil }},
		{name: "DetectsAChangedChainHash", firstBad: at(41), problem: "event 41: chain hash does not follow from the previous event",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) { ev[41].ChainHash[0] ^= 0x01; return ev, nil }},
		{name: "DetectsAChangeInTheFirstEvent", firstBad: at(0), problem: "event 0:",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) { ev[0].SubjectID += "x"; return ev, nil }},
		{name: "DetectsAChangeBeyondTheCheckpoint", firstBad: at(45), problem: "event 45:",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) { ev[45].ActorID = "usr_9"; return ev, b.cp40.Note }},

		{name: "DetectsADeletedMiddleRow", firstBad: at(20), problem: "event 20 is missing: the next event found is 21",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) { return append(ev[:20], ev[21:]...), nil }},
		{name: "DetectsTwoSwappedRows", firstBad: at(10), problem: "event 10 is missing",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) { ev[10], ev[11] = ev[11], ev[10]; return ev, nil }},
		{name: "DetectsTwoRowsWithSwappedContents", firstBad: at(10), problem: "event 10: leaf hash",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) {
				ev[10], ev[11] = ev[11], ev[10]
				ev[10].Seq, ev[11].Seq = 10, 11
				return ev, nil
			}},
		{name: "DetectsADuplicatedRow", firstBad: at(21), problem: "event 21 is missing: event 20 was found",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) {
				return append(ev[:21], append([]*audit.Event{copyEvent(ev[20])}, ev[21:]...)...), nil
			}},
		{name: "DetectsATailTruncatedBelowTheCheckpoint", firstBad: at(45), problem: "the log ends after 45 events but the checkpoint covers 50",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) { return ev[:45], nil }},
		{name: "DetectsAnEmptiedLog", firstBad: at(0), problem: "the log ends after 0 events",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) { return nil, nil }},
		{name: "DetectsHashesRecomputedAfterAChange", firstBad: noSeq, problem: "do not have the root hash signed in the checkpoint",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) { ev[41].ActorID = "usr_9"; rehash(ev); return ev, nil }},

		{name: "DetectsHistoryRewrittenAndResignedWithTheRealKey", since: b.since30, firstBad: noSeq,
			problem: "the first 30 events are not the ones the saved checkpoint signed",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) {
				ev[5].Payload["decision"] = "approved"
				return ev, resign(rehash(ev))
			}},
		{name: "DetectsATailTruncatedAndResignedWithTheRealKey", since: b.since30, firstBad: at(25),
			problem: "the checkpoint covers 25 events, fewer than the 30 of the saved checkpoint",
			tamper:  func(ev []*audit.Event) ([]*audit.Event, []byte) { return ev[:25], resign(rehash(ev[:25])) }},
		{name: "DetectsATailTruncatedBelowTheSavedCheckpointWithoutACheckpoint", since: b.since30, firstBad: at(25),
			problem: "the log ends after 25 events but the saved checkpoint covers 30",
			tamper:  func(ev []*audit.Event) ([]*audit.Event, []byte) { return ev[:25], []byte{} }},
		{name: "CannotDetectARewriteResignedWithTheRealKeyWithoutTheSavedCheckpoint", ok: true,
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) {
				ev[5].Payload["decision"] = "approved"
				return ev, resign(rehash(ev))
			}},

		{name: "DetectsAnEditedCheckpoint", firstBad: noSeq, problem: "the checkpoint is refused",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) {
				return ev, bytes.Replace(b.cp50.Note, []byte("\n50\n"), []byte("\n49\n"), 1)
			}},
		{name: "DetectsACheckpointSignedByAnotherKey", firstBad: noSeq, problem: "not signed by any of the given verifier keys",
			tamper: func(ev []*audit.Event) ([]*audit.Event, []byte) {
				return ev, mustBuildLog(t, 50).mustCheckpoint(t, 50).Note
			}},
		{name: "DetectsAnEditedSavedCheckpoint", firstBad: noSeq, problem: "the saved checkpoint is refused",
			since: &audit.Checkpoint{Note: bytes.Replace(b.since30.Note, []byte("\n30\n"), []byte("\n31\n"), 1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			events, note := b.log.copies(), b.cp50.Note
			if tc.tamper != nil {
				var n []byte
				if events, n = tc.tamper(events); n != nil {
					note = n
				}
			}
			v := &audit.Verifier{Origin: testOrigin, Keys: b.log.keys, Since: tc.since}
			rep, err := v.Verify(ctx, stream(events), note)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK != tc.ok {
				t.Fatalf("OK = %v, want %v (problem %q)", rep.OK, tc.ok, rep.Problem)
			}
			if tc.ok {
				if rep.Problem != "" || rep.FirstBad != nil || rep.Events != uint64(len(events)) {
					t.Fatalf("report %+v", rep)
				}
				return
			}
			if (rep.FirstBad == nil) != (tc.firstBad == nil) || (rep.FirstBad != nil && *rep.FirstBad != *tc.firstBad) {
				t.Fatalf("FirstBad = %v, want %v (problem %q)", ptrString(rep.FirstBad), ptrString(tc.firstBad), rep.Problem)
			}
			if !strings.Contains(rep.Problem, tc.problem) {
				t.Fatalf("problem %q does not say %q", rep.Problem, tc.problem)
			}
		})
	}

	t.Run("ReportsTheRootChainAndCheckpoint", func(t *testing.T) {
		t.Parallel()
		var calls []uint64
		v := &audit.Verifier{Origin: testOrigin, Keys: b.log.keys, Progress: func(n uint64) { calls = append(calls, n) }}
		rep, err := v.Verify(ctx, stream(b.log.copies()), b.cp40.Note)
		if err != nil || !rep.OK {
			t.Fatalf("%+v %v", rep, err)
		}
		if rep.Events != 50 || !bytes.Equal(rep.Root, b.log.roots[50]) || !bytes.Equal(rep.Chain, b.log.chains[50]) ||
			rep.CheckpointSize != 40 || rep.Checkpoint == nil || !bytes.Equal(rep.Checkpoint.Note, b.cp40.Note) {
			t.Fatalf("report %+v", rep)
		}
		if len(calls) == 0 || calls[len(calls)-1] != 50 {
			t.Fatalf("progress calls %v", calls)
		}
	})

	t.Run("AcceptsTheEmptyLog", func(t *testing.T) {
		t.Parallel()
		empty := mustBuildLog(t, 0)
		cp := empty.mustCheckpoint(t, 0)
		rep, err := (&audit.Verifier{Origin: testOrigin, Keys: empty.keys, Since: cp}).Verify(ctx, stream(nil), cp.Note)
		if err != nil || !rep.OK || rep.Events != 0 || !bytes.Equal(rep.Root, audit.Hasher.EmptyRoot()) {
			t.Fatalf("%+v %v", rep, err)
		}
	})

	t.Run("ChecksIntegrityAloneWithoutACheckpoint", func(t *testing.T) {
		t.Parallel()
		ev := b.log.copies()
		ev[7].Role = "admin"
		rep, err := (&audit.Verifier{Origin: testOrigin}).Verify(ctx, stream(ev), nil)
		if err != nil || rep.OK || *rep.FirstBad != 7 {
			t.Fatalf("%+v %v", rep, err)
		}
	})

	t.Run("RefusesABadConfiguration", func(t *testing.T) {
		t.Parallel()
		if _, err := (&audit.Verifier{Origin: testOrigin}).Verify(ctx, stream(nil), b.cp50.Note); err == nil {
			t.Fatal("checkpoint without keys accepted")
		}
		if _, err := (&audit.Verifier{Keys: b.log.keys}).Verify(ctx, stream(nil), b.cp50.Note); err == nil {
			t.Fatal("empty origin accepted")
		}
	})

	t.Run("StopsWhenTheContextIsCancelled", func(t *testing.T) {
		t.Parallel()
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := (&audit.Verifier{Origin: testOrigin, Keys: b.log.keys}).Verify(cctx, stream(b.log.copies()), b.cp50.Note)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("ReturnsReadErrorsThatAreNotTampering", func(t *testing.T) {
		t.Parallel()
		boom := errors.New("connection reset")
		_, err := (&audit.Verifier{Origin: testOrigin, Keys: b.log.keys}).Verify(ctx, func() (*audit.Event, error) { return nil, boom }, b.cp50.Note)
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestVerifyExport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := mustBuildLog(t, 50)
	cp := l.mustCheckpoint(t, 50)
	data := mustExport(t, l.events, cp)
	lines := strings.SplitAfter(string(data), "\n")

	for _, tc := range []struct {
		name     string
		input    string
		origin   string
		ok       bool
		firstBad *uint64
		problem  string
	}{
		{name: "AcceptsTheExport", input: string(data), ok: true},
		{name: "AcceptsTheExportTakingTheOriginFromItsHeader", input: string(data), origin: "-", ok: true},
		{name: "DetectsOneByteChangedInTheFile", input: strings.Replace(string(data), `"drf_000041"`, `"drf_000042"`, 1),
			firstBad: ptr(41), problem: "event 41: leaf hash does not match its contents"},
		{name: "DetectsADeletedLine", input: strings.Join(append(lines[:21:21], lines[22:]...), ""),
			firstBad: ptr(20), problem: "event 20 is missing"},
		{name: "DetectsTwoSwappedLines", input: strings.Join(lines[:11], "") + lines[12] + lines[11] + strings.Join(lines[13:], ""),
			firstBad: ptr(10), problem: "event 10 is missing"},
		{name: "DetectsATruncatedFile", input: strings.Join(lines[:41], ""),
			firstBad: ptr(40), problem: "the log ends after 40 events but the checkpoint covers 50"},
		{name: "DetectsAMalformedLine", input: strings.Join(lines[:31], "") + "{\n" + strings.Join(lines[32:], ""),
			firstBad: ptr(30), problem: "export line 32"},
		{name: "DetectsAHeaderAnnouncingMoreEvents", input: strings.Replace(string(data), `"size":50`, `"size":51`, 1),
			firstBad: ptr(50), problem: "the export ends after 50 events but its header announces 51"},
		{name: "DetectsAnExportOfAnotherLog", input: string(data), origin: "elsewhere.test/audit", problem: "comes from log"},
		{name: "DetectsAnUnreadableHeader", input: "{}\n", problem: "the export cannot be read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := &audit.Verifier{Origin: testOrigin, Keys: l.keys}
			if tc.origin == "-" {
				v.Origin = ""
			} else if tc.origin != "" {
				v.Origin = tc.origin
			}
			rep, err := v.VerifyExport(ctx, strings.NewReader(tc.input))
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK != tc.ok {
				t.Fatalf("OK = %v (problem %q)", rep.OK, rep.Problem)
			}
			if tc.ok {
				return
			}
			if tc.firstBad != nil && (rep.FirstBad == nil || *rep.FirstBad != *tc.firstBad) {
				t.Fatalf("FirstBad = %s, want %d (problem %q)", ptrString(rep.FirstBad), *tc.firstBad, rep.Problem)
			}
			if !strings.Contains(rep.Problem, tc.problem) {
				t.Fatalf("problem %q does not say %q", rep.Problem, tc.problem)
			}
		})
	}
}

func ptr(n uint64) *uint64 { return &n }

func ptrString(p *uint64) string {
	if p == nil {
		return "nil"
	}
	return strconv.FormatUint(*p, 10)
}
