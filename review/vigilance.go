package review

import (
	"fmt"
	"slices"

	"github.com/countersign/countersign/assistant"
)

// Vigilance checks, modelled on threat-image projection in airport
// screening: now and then the service adds to a generated draft one
// statement known to be false. Which statement it is lives only in the
// database, never in the content the reviewer's client receives. A reviewer
// who removes it, or rejects the draft, has caught it; one who approves it
// has missed it, and the server strips it from the record regardless.

// Vigilance outcomes, as recorded in the audit log.
const (
	VigilanceCaught = "caught"
	VigilanceMissed = "missed"
)

// VigilanceCheck is the known-false statement added to one draft.
type VigilanceCheck struct {
	DraftID     string
	StatementID string
	Text        string
}

// VigilanceResult tells the reviewer the outcome of a check once the draft
// is decided.
type VigilanceResult struct {
	Missed  bool   `json:"missed"`
	Message string `json:"message"`
}

// NewVigilanceResult returns the message for an outcome.
func NewVigilanceResult(missed bool, statement string) *VigilanceResult {
	if missed {
		return &VigilanceResult{Missed: true, Message: fmt.Sprintf("This draft held a vigilance check: the statement %q was known to be false "+
			"and you approved it. It has been left out of the record. Please read each statement against the notes.", statement)}
	}
	return &VigilanceResult{Message: fmt.Sprintf("Well spotted: the statement %q was a vigilance check, known to be false.", statement)}
}

// vigilanceStatements are plainly false claims that no case note supports,
// per language. Append only.
var vigilanceStatements = map[string][]string{
	"en": {
		"The client reported winning a lottery prize last month.",
		"The client said the landlord has cancelled all rent arrears.",
		"The client has started working as an airline pilot.",
	},
	"fr": {
		"Le client a déclaré avoir gagné à la loterie le mois dernier.",
		"Le client a dit que le propriétaire a annulé tous les arriérés de loyer.",
		"Le client a commencé à travailler comme pilote de ligne.",
	},
	"nl": {
		"De cliënt meldde vorige maand een loterijprijs te hebben gewonnen.",
		"De cliënt zei dat de verhuurder alle huurachterstanden heeft kwijtgescholden.",
		"De cliënt is begonnen als piloot bij een luchtvaartmaatschappij.",
	},
	"de": {
		"Der Klient berichtete, letzten Monat im Lotto gewonnen zu haben.",
		"Der Klient sagte, der Vermieter habe alle Mietrückstände erlassen.",
		"Der Klient arbeitet seit kurzem als Linienpilot.",
	},
}

// InsertVigilance adds a known-false statement to c and returns its check.
// pick and pos, uniform in [0, 1), choose the statement and where it goes;
// the statement borrows the citations of a neighbouring statement, so it
// looks like any other. Returns nil when c has no statement to stand beside.
func InsertVigilance(c *assistant.Content, pick, pos float64) *VigilanceCheck {
	if c == nil || len(c.Statements) == 0 {
		return nil
	}
	pool, ok := vigilanceStatements[c.Language]
	if !ok {
		pool = vigilanceStatements["en"]
	}
	text := pool[min(int(pick*float64(len(pool))), len(pool)-1)]
	at := min(int(pos*float64(len(c.Statements)+1)), len(c.Statements))
	near := c.Statements[max(at-1, 0)]
	id := freeStatementID(c)
	s := assistant.Statement{ID: id, Text: text, Citations: slices.Clone(near.Citations)}
	c.Statements = slices.Insert(c.Statements, at, s)
	return &VigilanceCheck{StatementID: id, Text: text}
}

func freeStatementID(c *assistant.Content) string {
	used := map[string]bool{}
	for _, s := range c.Statements {
		used[s.ID] = true
	}
	for _, it := range c.Items {
		used[it.ID] = true
	}
	for n := len(c.Statements) + 1; ; n++ {
		if id := fmt.Sprintf("s%d", n); !used[id] {
			return id
		}
	}
}
