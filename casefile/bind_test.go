package casefile_test

import (
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
)

func witness(r *audit.Record, seq uint64) audit.Witness {
	return audit.Witness{Event: &audit.Event{Seq: seq, ActorID: r.Actor.UserID, Action: r.Action, SubjectID: r.SubjectID,
		CaseID: r.CaseID, Payload: r.Payload}}
}

func problems(ms []audit.Mismatch) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Problem)
	}
	return strings.Join(s, "; ")
}

func TestCheckNote(t *testing.T) {
	t.Parallel()
	a := countersign.Actor{UserID: "usr_w", Role: countersign.RoleWorker, TeamID: "team_1"}
	c := &casefile.Case{ID: "case_1", TeamID: "team_1", WorkerID: "usr_w"}
	n := &casefile.Note{CaseID: c.ID, Body: "Home visit."}
	ev, err := casefile.DecideNote(a, c, n, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ev.Payload["body_sha256"]; ok || len(n.Salt) != 64 {
		t.Fatalf("a new note has salt %q and payload %v: want a keyed commitment only", n.Salt, ev.Payload)
	}
	ws := []audit.Witness{witness(ev, 7)}
	if ms := casefile.CheckNote(n, ws); len(ms) != 0 {
		t.Fatalf("the note as decided: %s", problems(ms))
	}
	for name, change := range map[string]func(n *casefile.Note){
		"does not match the stored body":  func(n *casefile.Note) { n.Body = "Phone call." },
		"does not match the stored body ": func(n *casefile.Note) { n.Salt = audit.NewSalt() },
		"its actor is":                    func(n *casefile.Note) { n.AuthorID = "usr_x" },
		"its case is":                     func(n *casefile.Note) { n.CaseID = "case_2" },
		"its amends is":                   func(n *casefile.Note) { n.Amends = "note_0" },
	} {
		m := *n
		change(&m)
		ms := casefile.CheckNote(&m, ws)
		if len(ms) != 1 || !strings.Contains(ms[0].Problem, strings.TrimSpace(name)) || ms[0].Seq == nil || *ms[0].Seq != 7 {
			t.Errorf("%s: %+v", name, ms)
		}
	}
	if ms := casefile.CheckNote(nil, ws); len(ms) != 1 || !strings.Contains(ms[0].Problem, "the row is gone") {
		t.Errorf("note gone: %+v", ms)
	}
	if ms := casefile.CheckNote(n, nil); len(ms) != 1 || !strings.Contains(ms[0].Problem, "no event") {
		t.Errorf("note without event: %+v", ms)
	}
	// A note written before keyed commitments: no salt, plain SHA-256.
	old := &casefile.Note{ID: "note_old", CaseID: c.ID, AuthorID: a.UserID, Body: "Old visit."}
	oldEv := witness(&audit.Record{Actor: a, Action: audit.ActionNoteAdded, SubjectID: old.ID, CaseID: c.ID,
		Payload: audit.Payload{"body_sha256": audit.Digest(old.Body)}}, 1)
	if ms := casefile.CheckNote(old, []audit.Witness{oldEv}); len(ms) != 0 {
		t.Errorf("an old note: %s", problems(ms))
	}
	old.Body = "Old visit!"
	if ms := casefile.CheckNote(old, []audit.Witness{oldEv}); len(ms) != 1 {
		t.Errorf("an old note changed: %+v", ms)
	}
}

func TestCheckPartyAndConsent(t *testing.T) {
	t.Parallel()
	a := countersign.Actor{UserID: "usr_w", Role: countersign.RoleWorker, TeamID: "team_1"}
	c := &casefile.Case{ID: "case_1", TeamID: "team_1", WorkerID: "usr_w"}
	p := &casefile.Party{Role: "client", FullName: "Marie Dubois", DateOfBirth: "1948-05-17", Address: "12 rue des Lilas, Lyon"}
	ev, err := casefile.DecideParty(a, c, p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ws := []audit.Witness{witness(ev, 3)}
	if ms := casefile.CheckParty(p, ws); len(ms) != 0 {
		t.Fatalf("the party as decided: %s", problems(ms))
	}
	q := *p
	q.NationalID = "1 48 05 69 123 456"
	if ms := casefile.CheckParty(&q, ws); len(ms) != 1 || !strings.Contains(ms[0].Problem, "details") {
		t.Errorf("a detail added: %+v", ms)
	}
	// AUDIT.md's worked example of a party's details.
	want := "full_name=Marie Dubois\ndate_of_birth=1948-05-17\naddress=12 rue des Lilas, Lyon\nphone=\nemail=\nnational_id=\n"
	if got := casefile.PartyDetails(p); got != want {
		t.Errorf("PartyDetails = %q", got)
	}
	if got := audit.Commit("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", want); got != "ea1dd553206dbaed569bc0523fdfe8d7626683297267e28b23e28550cca0d027" {
		t.Errorf("the details' commitment = %s", got)
	}

	for _, note := range []string{"", "Asked at the office."} {
		cn := &casefile.Consent{CaseID: c.ID, Given: true, Note: note}
		dec, err := casefile.DecideConsent(a, c, cn, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		ws := []audit.Witness{witness(dec.Event, 4)}
		if ms := casefile.CheckConsent(cn, ws); len(ms) != 0 {
			t.Fatalf("consent as decided (note %q): %s", note, problems(ms))
		}
		forged := *cn
		forged.Note = "She agreed to everything."
		if ms := casefile.CheckConsent(&forged, ws); len(ms) != 1 {
			t.Errorf("note %q replaced: %+v", note, ms)
		}
		forged = *cn
		forged.Given = false
		if ms := casefile.CheckConsent(&forged, ws); len(ms) != 2 {
			t.Errorf("answer turned to no: %+v", ms)
		}
	}
}
