package web

import (
	"context"
	"strings"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
)

// staffView is how the ethics board's pages show members of staff: by the
// pseudonyms the statistics use (audit.Pseudonymizer under the notary's
// key), in the trail as in the table by reviewer, so that one person is the
// same w_… everywhere on the page and their user id appears nowhere;
// unless the service is told to show real ids (COUNTERSIGN_STATS_REAL_IDS),
// or cannot derive the key, and then everywhere by user id.
type staffView struct {
	// show maps a user id to its pseudonym; nil shows user ids.
	show func(userID string) string
}

// staff returns how the board's pages show staff.
func (s *Server) staff() (*staffView, error) {
	if s.StatsRealIDs {
		return &staffView{}, nil
	}
	k, ok := s.Checkpoints.(interface{ PseudonymKey() ([]byte, error) })
	if !ok {
		return &staffView{}, nil
	}
	key, err := k.PseudonymKey()
	if err != nil {
		return nil, err
	}
	return &staffView{show: audit.Pseudonymizer(key)}, nil
}

func (v *staffView) pseudonymous() bool { return v.show != nil }

// isUserID reports whether id names a person; the service's own actors
// (system, system:cli, system:demo) are shown as themselves.
func isUserID(id string) bool { return strings.HasPrefix(id, countersign.PrefixUser+"_") }

// of returns how id is shown.
func (v *staffView) of(id string) string {
	if v.show == nil || !isUserID(id) {
		return id
	}
	return v.show(id)
}

// event returns e as the board sees it: every user id it names (its
// actor, a user it is about, a payload value) shown by its pseudonym.
func (v *staffView) event(e *audit.Event) *audit.Event {
	if v.show == nil {
		return e
	}
	c := *e
	c.ActorID, c.SubjectID = v.of(e.ActorID), v.of(e.SubjectID)
	if e.Payload != nil {
		c.Payload = make(audit.Payload, len(e.Payload))
		for k, val := range e.Payload {
			c.Payload[k] = v.of(val)
		}
	}
	return &c
}

// actorFilter turns the trail's actor filter into the id the log holds:
// a pseudonym into the user id it stands for (none matches nothing). A
// user id is refused where staff are pseudonymous: filtering by it would
// tell which pseudonym it has. ok is false then.
func (s *Server) actorFilter(ctx context.Context, v *staffView, value string) (id string, ok bool, err error) {
	if !v.pseudonymous() {
		return value, true, nil
	}
	if isUserID(value) {
		return "", false, nil
	}
	if !strings.HasPrefix(value, "w_") {
		return value, true, nil
	}
	ids, err := s.Identity.FindUserIDs(ctx)
	if err != nil {
		return "", false, err
	}
	for _, id := range ids {
		if v.show(id) == value {
			return id, true, nil
		}
	}
	return value, true, nil // no user has it: the filter matches nothing
}
