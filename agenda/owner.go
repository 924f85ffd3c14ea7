package agenda

import (
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/caseload"
)

// CauseCaseAssigned is the cause an agenda.entry_updated event gives when
// the entry changed owner because its case was assigned to another worker
// (DecideCaseAssigned).
const CauseCaseAssigned = "case_assigned"

// ChangedOwner is the code agenda.entry_updated's changed field gives for
// a change of owner.
const ChangedOwner = "owner"

// MovedEntries is what a case's assignment does to its agenda.
type MovedEntries struct {
	// Moved are the entries that passed to the case's new worker, changed
	// in place; Read holds the sequence each was read at, in the same
	// order, for the store's guarded write.
	Moved []*Entry
	Read  []int
	// Events are their agenda.entry_updated events, one per entry, in order.
	Events []audit.Record
}

// DecideCaseAssigned decides what assigning case c from worker from to its
// new worker (c.WorkerID, already changed; caseload.DecideAssign has
// allowed it) does to entries, the case's entries as the store found them
// under the case's lock: each open entry from owns passes to the new
// worker, who is reminded of it, sees it in their agenda and calendar feed
// and is the one whose overdue deadlines the caseload counts. Reminders
// reach an entry's owner when they are delivered (Deliver), so those
// already scheduled go to the new owner without being scheduled again.
// Closed entries keep their history; an open entry someone else owns stays
// theirs. Only those who may assign the case change an entry's owner, by
// the caseload's own rule (caseload.CheckAllocate: a supervisor of the
// case's team or the service itself). Each moved entry's
// sequence grows by one, since the staff calendars it leaves and enters
// must pick up the change, and its event (changed owner, the new owner,
// from, the cause case_assigned, and the kind, date and sequence as
// DecideUpdate gives them) carries ids and codes only.
func DecideCaseAssigned(a countersign.Actor, c *casefile.Case, entries []*Entry, from string, now time.Time) (*MovedEntries, error) {
	if caseload.CheckAllocate(a, c.TeamID) != nil {
		return nil, countersign.Errorf(countersign.EFORBIDDEN, "Only a supervisor of the case's team can give its agenda to another worker.")
	}
	if err := casefile.CheckWrite(a, c); err != nil {
		return nil, err
	}
	out := &MovedEntries{}
	if from == c.WorkerID {
		return out, nil
	}
	for _, e := range entries {
		if e.CaseID != c.ID || e.Status != StatusOpen || e.OwnerID != from {
			continue
		}
		out.Read = append(out.Read, e.Sequence)
		e.OwnerID, e.Sequence, e.UpdatedAt = c.WorkerID, e.Sequence+1, now
		out.Moved = append(out.Moved, e)
		p := updatedPayload(e, ChangedOwner)
		p["owner"], p["from"], p["cause"] = e.OwnerID, from, CauseCaseAssigned
		out.Events = append(out.Events, audit.Record{Actor: a, Action: ActionEntryUpdated, SubjectType: "agenda_entry",
			SubjectID: e.ID, CaseID: e.CaseID, Payload: p})
	}
	return out, nil
}
