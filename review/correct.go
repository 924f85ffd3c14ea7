package review

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
)

// CorrectionInput is what a correction of a record entry is decided from.
type CorrectionInput struct {
	Actor countersign.Actor
	Case  *casefile.Case
	// Old is the entry corrected, with SupersededBy and PendingCorrection
	// as the store found them under lock.
	Old        *Entry
	Correction Correction
	Policy     *Policy
	Now        time.Time
}

// CorrectionResult is what a correction changes. Entry is the new entry;
// when Pending is set it waits for a supervisor's countersignature and the
// old entry stays in force until then.
type CorrectionResult struct {
	Entry  *Entry
	Events []audit.Record
}

// DecideCorrection decides a correction of a signed record entry under the
// same policy as a first sign-off: an entry that was countersigned, or
// whose kind the policy reserves to two signatures, needs a second
// signature again, and so does a correction that adds a risk or
// safeguarding statement where the policy countersigns risks. Statements
// about risk, safeguarding, capacity or health that the correction adds, as
// the service itself reads them (assistant.Categorize), must be confirmed.
func DecideCorrection(in CorrectionInput) (*CorrectionResult, error) {
	a, c, old, p := in.Actor, in.Correction, in.Old, in.Policy
	var fields []countersign.FieldError
	switch {
	case strings.TrimSpace(c.Content) == "":
		fields = append(fields, countersign.FieldError{Field: "content", Message: "Give the corrected text."})
	case len(c.Content) > MaxContentBytes:
		fields = append(fields, countersign.FieldError{Field: "content", Message: fmt.Sprintf("The text is too long: at most %d bytes.", MaxContentBytes)})
	case !ValidText(c.Content):
		fields = append(fields, countersign.FieldError{Field: "content", Message: "The text contains a NUL character or invalid UTF-8."})
	}
	switch {
	case strings.TrimSpace(c.Reason) == "":
		fields = append(fields, countersign.FieldError{Field: "reason", Message: "Say why the entry is corrected."})
	case len(c.Reason) > 2000 || !ValidText(c.Reason):
		fields = append(fields, countersign.FieldError{Field: "reason", Message: "The reason must be text of at most 2000 bytes."})
	}
	if len(fields) > 0 {
		return nil, countersign.InvalidFields("The entry could not be corrected.", fields...)
	}
	if a.Role != countersign.RoleWorker && a.Role != countersign.RoleSupervisor {
		return nil, countersign.Errorf(countersign.EFORBIDDEN, "Only the case's worker or a supervisor of its team can correct the record.")
	}
	if err := casefile.CheckWrite(a, in.Case); err != nil {
		return nil, err
	}
	switch {
	case old.SupersededBy != "":
		return nil, countersign.Errorf(countersign.ECONFLICT, "This entry has already been corrected by %s; correct the latest version.", old.SupersededBy)
	case old.PendingCorrection != "":
		return nil, countersign.Errorf(countersign.ECONFLICT, "A correction of this entry (%s) is waiting for a supervisor's countersignature.", old.PendingCorrection)
	}
	added := AddedHighStakes(old.Content, c.Content)
	if len(added) > 0 && !c.ConfirmHighStakes {
		quoted := make([]string, len(added))
		for i, s := range added {
			quoted[i] = strconv.Quote(s.Text)
		}
		return nil, countersign.InvalidFields("The entry could not be corrected.", countersign.FieldError{Field: "confirm_high_stakes",
			Message: "This correction adds statements about risk, safeguarding, capacity or health; read them again and confirm them: " +
				strings.Join(quoted, "; ") + "."})
	}
	risk := slices.ContainsFunc(added, func(s assistant.Statement) bool {
		return s.Category == assistant.CategoryRisk || s.Category == assistant.CategorySafeguarding
	})
	needs := old.CountersignedBy != "" || slices.Contains(p.CountersignKinds, assistant.Kind(old.Kind)) || p.CountersignOnRisk && risk
	e := &Entry{ID: countersign.NewID(countersign.PrefixEntry), CaseID: old.CaseID, Kind: old.Kind, Content: c.Content,
		SignedBy: a.UserID, SignedAt: in.Now, Supersedes: old.ID, Correction: c.Reason, Pending: needs, Salt: audit.NewSalt(),
		// A correction keeps the sharing its signer chose for the entry.
		Sharing: old.Sharing, WithheldReason: old.WithheldReason}
	action := audit.ActionRecordCorrected
	if needs {
		action = audit.ActionRecordCorrectionPending
	}
	return &CorrectionResult{Entry: e, Events: []audit.Record{{Actor: a, Action: action, SubjectType: "record_entry",
		SubjectID: e.ID, CaseID: old.CaseID, Payload: commitEntry(audit.Payload{
			"supersedes": old.ID, "previous_commitment": previous(old), "high_stakes_added": strconv.Itoa(len(added)),
			"countersign_required": strconv.FormatBool(needs),
		}, e)}}}, nil
}

// AddedHighStakes returns the sentences of after that are not in before
// and that the service reads as high-stakes, each with its category.
func AddedHighStakes(before, after string) []assistant.Statement {
	had := map[string]bool{}
	for _, s := range assistant.Sentences(before) {
		had[strings.Join(strings.Fields(strings.ToLower(s)), " ")] = true
	}
	var out []assistant.Statement
	for _, s := range assistant.Sentences(after) {
		if had[strings.Join(strings.Fields(strings.ToLower(s)), " ")] {
			continue
		}
		if cat := assistant.Categorize(s); HighStakes(cat) {
			out = append(out, assistant.Statement{Text: s, Category: cat})
		}
	}
	return out
}

// CorrectionVerdictInput is what a supervisor's verdict on a pending
// correction is decided from.
type CorrectionVerdictInput struct {
	Actor countersign.Actor
	Case  *casefile.Case
	// Pending is the correction waiting; Old the entry it corrects.
	Pending, Old *Entry
	Countersign  bool
	// Comment goes with a countersignature; Reason with a refusal.
	Comment, Reason string
	Now             time.Time
}

// DecideCorrectionVerdict decides a supervisor's countersignature or
// refusal of a pending correction: a supervisor of the case's team who did
// not write the correction. A countersigned correction becomes the entry
// in force, signed by its author and countersigned; a refused one leaves
// the corrected entry in force.
func DecideCorrectionVerdict(in CorrectionVerdictInput) (*CorrectionResult, error) {
	a, pe := in.Actor, in.Pending
	if in.Countersign {
		if err := ValidateComment(in.Comment, "The correction could not be countersigned."); err != nil {
			return nil, err
		}
	} else if strings.TrimSpace(in.Reason) == "" || len(in.Reason) > 2000 || !ValidText(in.Reason) {
		return nil, countersign.InvalidFields("The correction could not be refused.", countersign.FieldError{Field: "reason",
			Message: "Say, in at most 2000 bytes, why the correction is refused."})
	}
	if a.Role != countersign.RoleSupervisor || a.TeamID != in.Case.TeamID {
		return nil, countersign.Errorf(countersign.EFORBIDDEN, "Only a supervisor of the case's team can countersign a correction.")
	}
	if a.UserID == pe.SignedBy {
		return nil, countersign.Errorf(countersign.EFORBIDDEN, "You wrote this correction; a different supervisor must countersign it.")
	}
	if !pe.Pending {
		return nil, countersign.Errorf(countersign.ECONFLICT, "This correction is no longer waiting for a countersignature.")
	}
	if in.Old.SupersededBy != "" {
		return nil, countersign.Errorf(countersign.ECONFLICT, "The entry has been corrected since; this correction can no longer be signed.")
	}
	e := *pe
	e.Pending = false
	if !in.Countersign {
		return &CorrectionResult{Entry: &e, Events: []audit.Record{{Actor: a, Action: audit.ActionRecordCorrectionRefused,
			SubjectType: "record_entry", SubjectID: pe.ID, CaseID: pe.CaseID, Payload: audit.Payload{
				"supersedes": in.Old.ID, "author": pe.SignedBy, "refusal_commitment": audit.Commit(pe.Salt, in.Reason),
			}}}}, nil
	}
	now := in.Now
	e.CountersignedBy, e.CountersignedAt = a.UserID, &now
	return &CorrectionResult{Entry: &e, Events: []audit.Record{{Actor: a, Action: audit.ActionRecordCorrected,
		SubjectType: "record_entry", SubjectID: pe.ID, CaseID: pe.CaseID, Payload: commitEntry(audit.Payload{
			"supersedes": in.Old.ID, "previous_commitment": previous(in.Old), "signed_by": pe.SignedBy, "countersigned_by": a.UserID,
		}, &e)}}}, nil
}

// previous is the commitment to the text a correction replaces, made with
// the replaced entry's own salt (plain SHA-256 for an entry signed before
// keyed commitments, which has none), so that it equals the commitment the
// log holds for that entry.
func previous(old *Entry) string {
	if old.Salt == "" {
		return audit.Digest(old.Content)
	}
	return audit.Commit(old.Salt, old.Content)
}
