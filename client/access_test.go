package client_test

import (
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/client"
)

func TestReadEvent(t *testing.T) {
	t.Parallel()
	worker := countersign.Actor{UserID: "u1", Name: "Wendy", Role: countersign.RoleWorker, TeamID: "t1"}
	for _, tc := range []struct {
		name    string
		actor   countersign.Actor
		read    client.Read
		code    string
		logged  bool
		payload audit.Payload
	}{
		{"AWorkersReadOfNotesIsLogged", worker, client.Read{CaseID: "c1", What: client.ReadNotes}, "", true, audit.Payload{"what": "notes"}},
		{"ADraftReadNamesTheDraft", worker, client.Read{CaseID: "c1", What: client.ReadDraft, TargetID: "d1"}, "", true, audit.Payload{"what": "draft", "target": "d1"}},
		{"ASupervisorsReadIsLogged", countersign.Actor{UserID: "u2", Role: countersign.RoleSupervisor}, client.Read{CaseID: "c1", What: client.ReadRecord}, "", true, audit.Payload{"what": "record"}},
		{"TheEthicsBoardsReadIsLogged", countersign.Actor{UserID: "u3", Role: countersign.RoleEthics}, client.Read{CaseID: "c1", What: client.ReadCase}, "", true, audit.Payload{"what": "case"}},
		{"ADraftNotYetWrittenShowsNothingAndLogsNothing", worker, client.Read{CaseID: "c1", What: client.ReadDraft, TargetID: "d1", Empty: true}, "", false, nil},
		{"TheServiceItselfLogsNothing", countersign.SystemCLI, client.Read{CaseID: "c1", What: client.ReadNotes}, "", false, nil},
		{"AClientReadingTheirOwnFileLogsNothing", client.Principal{AccountID: "a"}.Actor(), client.Read{CaseID: "c1", What: client.ReadRecord}, "", false, nil},
		{"AnUnknownReadIsRefused", worker, client.Read{CaseID: "c1", What: "gossip"}, countersign.EINVALID, false, nil},
		{"AReadOfNoCaseIsRefused", worker, client.Read{What: client.ReadCase}, countersign.EINVALID, false, nil},
		{"NoActorIsRefused", countersign.Actor{}, client.Read{CaseID: "c1", What: client.ReadCase}, countersign.EUNAUTHORIZED, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev, err := client.ReadEvent(tc.actor, tc.read)
			if got := countersign.ErrorCode(err); err != nil && got != tc.code || err == nil && tc.code != "" {
				t.Fatalf("error %v, want code %q", err, tc.code)
			}
			if (ev != nil) != tc.logged {
				t.Fatalf("event %+v, logged %v", ev, tc.logged)
			}
			if ev == nil {
				return
			}
			if ev.Action != audit.ActionCaseRead || ev.CaseID != "c1" || ev.SubjectID != "c1" || len(ev.Payload) != len(tc.payload) {
				t.Fatalf("event %+v", ev)
			}
			for k, v := range tc.payload {
				if ev.Payload[k] != v {
					t.Fatalf("payload %v, want %v", ev.Payload, tc.payload)
				}
			}
		})
	}
}

func TestAccessView(t *testing.T) {
	t.Parallel()
	e := &audit.Event{Seq: 7, At: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC), ActorID: "u1", Role: "worker", Action: audit.ActionCaseRead,
		SubjectType: "case", SubjectID: "c1", CaseID: "c1", Payload: audit.Payload{"what": "notes"}}
	staff := map[string]client.Staff{"u1": {Name: "Wendy Worker", Role: "worker"}}
	v := client.AccessView(e, true, staff, "en")
	if v.Words != "Wendy Worker (social worker) read the notes in your file." || v.Seq == nil || *v.Seq != 7 || string(v.Canonical) != string(e.Canonical()) {
		t.Fatalf("view %+v", v)
	}
	pending := client.AccessView(e, false, map[string]client.Staff{}, "fr")
	if pending.Recorded() || pending.Canonical != nil || !strings.HasPrefix(pending.Words, "Quelqu'un du service (assistant social) a lu") {
		t.Fatalf("pending view %+v", pending)
	}
}
