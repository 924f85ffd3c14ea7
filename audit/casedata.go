package audit

import "fmt"

// The case data check: every row of case content (notes, parties, consent
// answers, draft content, decisions, record entries and corrections) is
// held against the events that created or changed it. The domain packages
// own the rule for each table (casefile.CheckNote, review.CheckDecision…);
// the store streams the rows and their events and calls them. AUDIT.md,
// section 14, says what is checked.

// Witness is an event the check holds a row against: an event of the log,
// or one still waiting in audit_pending to be sequenced (Pending, and Seq
// means nothing).
type Witness struct {
	*Event
	Pending bool
}

// Mismatch is one thing a rule found wrong with a row, or with an event
// whose row is gone.
type Mismatch struct {
	// ID names the row when it is not the id the store grouped by (a
	// decision is grouped by its draft).
	ID string
	// Seq is the event concerned, when it is in the log.
	Seq     *uint64
	Problem string
}

// DataFinding is a Mismatch as the check reports it: the table, the row's
// id, the event and the problem.
type DataFinding struct {
	Table   string  `json:"table"`
	ID      string  `json:"id"`
	Seq     *uint64 `json:"seq,omitempty"`
	Problem string  `json:"problem"`
}

func (f DataFinding) String() string {
	if f.Seq != nil {
		return fmt.Sprintf("%s %s (entry %d): %s", f.Table, f.ID, *f.Seq, f.Problem)
	}
	return fmt.Sprintf("%s %s: %s", f.Table, f.ID, f.Problem)
}

// DataReport sums up a case data check.
type DataReport struct {
	// Rows is the number of rows checked, by table.
	Rows map[string]int
	// Waiting counts the rows whose event is still waiting to be
	// sequenced; they are held against it all the same.
	Waiting int
	// Problems is the number of findings.
	Problems int
}

// OK reports whether the case data agrees with the log.
func (r *DataReport) OK() bool { return r.Problems == 0 }

// Problem returns a Mismatch about w's event (its entry, when w is in the log).
func (w Witness) Problem(format string, args ...any) Mismatch {
	m := Mismatch{Problem: fmt.Sprintf(format, args...)}
	if !w.Pending {
		seq := w.Seq
		m.Seq = &seq
	}
	return m
}

// First returns the first of ws whose action is one of actions, or nil.
func First(ws []Witness, actions ...string) *Witness {
	for i := range ws {
		for _, a := range actions {
			if ws[i].Action == a {
				return &ws[i]
			}
		}
	}
	return nil
}

// Last returns the last of ws whose action is one of actions, or nil.
func Last(ws []Witness, actions ...string) *Witness {
	for i := len(ws) - 1; i >= 0; i-- {
		for _, a := range actions {
			if ws[i].Action == a {
				return &ws[i]
			}
		}
	}
	return nil
}

// NoEvent is the Mismatch of a row that no event records.
func NoEvent(what string) Mismatch {
	return Mismatch{Problem: "no event in the log records this " + what}
}

// RowGone is the Mismatch of an event whose row is no longer there.
// Erasure never deletes a row (it overwrites its text): a row gone is
// always a finding.
func RowGone(w Witness, what string) Mismatch {
	return w.Problem("the log records this %s (%s) but the row is gone", what, w.Action)
}

// CheckText holds a stored text and its salt against w's commitment to
// field. With required, an event without any commitment to the field is a
// mismatch too; otherwise (fields committed only since keyed commitments)
// it checks nothing.
func CheckText(w Witness, field, salt, text string, required bool) []Mismatch {
	switch w.Payload.Open(field, salt, text) {
	case Opens:
		return nil
	case DoesNotOpen:
		return []Mismatch{w.Problem("the log's commitment does not match the stored %s", label(field))}
	}
	if required {
		return []Mismatch{w.Problem("the event holds no commitment to the %s", label(field))}
	}
	return nil
}

// label names a committed field in a finding.
func label(field string) string {
	switch field {
	case "final":
		return "final text"
	case "refusal":
		return "refusal reason"
	}
	return field
}

// CheckValue holds a stored value against what w says of it: the event's
// payload[key], or for the keys "actor" and "case" its actor and case.
func CheckValue(w Witness, key, stored string) []Mismatch {
	var logged string
	switch key {
	case "actor":
		logged = w.ActorID
	case "case":
		logged = w.CaseID
	default:
		logged = w.Payload[key]
	}
	if logged != stored {
		return []Mismatch{w.Problem("its %s is %q but the log says %q", key, stored, logged)}
	}
	return nil
}

// CheckErased holds a row that the erasure event erasure covers (a
// case.erased of its case, or a party.erased of its party): its text and
// salt are gone by rule, so the commitments of ws are not opened; the row
// must still have the events that created it, and its text must be empty.
// what names the row in findings.
func CheckErased(erasure Witness, ws []Witness, what string, empty bool) []Mismatch {
	var ms []Mismatch
	if len(ws) == 0 {
		ms = append(ms, NoEvent(what))
	}
	if !empty {
		ms = append(ms, erasure.Problem("the %s still holds text after the erasure this entry records", what))
	}
	return ms
}
