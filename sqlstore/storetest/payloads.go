package storetest

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/agenda"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
)

// A payload value is one of a few kinds of fact, never free text: the log
// is kept forever and shown to the board, and no one can erase a sentence
// from it. Each field of each action the service writes has its kind here;
// a field without one fails the suite, so a new field is classified when
// it is added.
type valueKind int

const (
	kindID         valueKind = iota // an identifier with a known prefix
	kindIDs                         // identifiers separated by commas
	kindCode                        // a code from a fixed or configured list
	kindInt                         // a whole number
	kindFloat                       // a decimal number
	kindBool                        // true or false
	kindTime                        // a time, RFC 3339 or the log's own format
	kindCommitment                  // a hex SHA-256 digest or keyed commitment
	kindProcess                     // a drafting worker's name, host:pid
	kindProvenance                  // the model, provider or prompt version the draft records
	kindAccount                     // a client's account number, C-12345-67890
	kindDate                        // a calendar date, YYYY-MM-DD (an agenda entry's day)
	kindItemID                      // a draft item's id: it_ and 12 hex digits
	kindCodes                       // codes from one list, separated by commas
)

// payloadKinds classifies every payload field by action; "*" holds the
// fields whose kind is the same in every action. Codes are checked against
// codeLists.
var payloadKinds = map[string]map[string]valueKind{
	"*": {
		"kind": kindCode, "stage": kindCode, "reason": kindCode, "previous_status": kindCode, "outcome": kindCode,
		"role": kindCode, "case_type": kindCode, "language": kindCode, "cause": kindCode, "previous": kindCode,
		"team": kindID, "worker": kindID, "user": kindID, "token": kindID, "from": kindID, "to": kindID, "decision": kindID,
		"first_signer": kindID, "signed_by": kindID, "countersigned_by": kindID, "author": kindID, "supersedes": kindID,
		"draft": kindID, "by": kindID, "consent": kindID, "amends": kindID, "notes": kindIDs,
		"attempt": kindInt, "attempts": kindInt, "seq": kindInt, "review_ms": kindInt, "wait_ms": kindInt, "ungrounded": kindInt,
		"statements_confirmed": kindInt, "statements_removed": kindInt, "items_rejected": kindInt, "high_stakes_added": kindInt,
		"prompt_tokens": kindInt, "completion_tokens": kindInt, "latency_ms": kindInt, "statements": kindInt, "items": kindInt,
		"count": kindInt, "drafts_stopped": kindInt, "model_calls": kindInt, "edit_ratio": kindFloat,
		"given": kindBool, "edited": kindBool, "fast_sign_off": kindBool, "countersign_required": kindBool, "pseudonymised": kindBool,
		"expires_at": kindTime, "retry_at": kindTime,
		// Whether the client may read an entry: the approval and the
		// entry's events (review/sharing.go).
		"sharing": kindCode, "withheld_reason": kindCode, "sharing_default": kindBool,
		"model": kindProvenance, "provider": kindProvenance, "prompt_version": kindProvenance, "detector_version": kindProvenance,
	},
	// The claim names the process that holds the draft, not a user.
	audit.ActionDraftClaimed: {"worker": kindProcess},
	// Staff reads of a case's content (client/access.go).
	audit.ActionCaseRead: {"what": kindCode, "target": kindID},
	// The client's right to answer (client/response.go).
	audit.ActionClientResponded:        {"entry": kindID, "party": kindID, "response_kind": kindCode},
	audit.ActionClientResponseAnswered: {"entry": kindID, "response_kind": kindCode, "answer": kindCode, "correction": kindID},
	// The client's invitations and sign-ins (client/invite.go, client/session.go).
	client.ActionAccountCreated:    {"party": kindID},
	client.ActionInvitationCreated: {"party": kindID, "account": kindAccount},
	client.ActionInvitationRevoked: {"party": kindID, "replaced": kindBool},
	client.ActionInvitationUsed:    {"account": kindAccount},
	client.ActionPasskeyRegistered: {"account": kindAccount},
	client.ActionSignedIn:          {"account": kindAccount, "method": kindCode, "session_kind": kindCode},
	client.ActionSignedOut:         {"account": kindAccount, "session_kind": kindCode},
	// The agenda (agenda/decide.go): codes are looked up as "action:field"
	// first (payloadCodes), since kind and outcome mean other lists there.
	agenda.ActionEntryCreated: {"date": kindDate, "timed": kindBool, "owner": kindID, "shared": kindBool, "source": kindCode,
		"item": kindItemID, "previous": kindID},
	agenda.ActionEntryUpdated:      {"changed": kindCodes, "date": kindDate, "timed": kindBool, "sequence": kindInt, "owner": kindID},
	agenda.ActionEntryClosed:       {"overdue": kindBool, "next": kindID},
	agenda.ActionDeadlineEscalated: {"date": kindDate, "notified": kindInt, "to_supervisors": kindBool},
	agenda.ActionFeedIssued:        {"owner": kindCode, "revoked": kindInt},
	agenda.ActionFeedConsent:       {"revoked": kindInt, "feed": kindID},
	// Retention and erasure (casefile/retention.go).
	casefile.ActionCaseClosed:       {"notes": kindInt, "drafts_superseded": kindInt},
	casefile.ActionCaseReopened:     {"requests_withdrawn": kindInt},
	casefile.ActionErasureRequested: {"party": kindID},
	casefile.ActionCaseErased:       erasedKinds(),
	casefile.ActionPartyErased:      erasedKinds(),
}

// erasedKinds are the fields of case.erased and party.erased: the rule,
// the policy's digest, the erasure and request, and counts by table.
func erasedKinds() map[string]valueKind {
	k := map[string]valueKind{"rule": kindCode, "policy_version": kindCommitment, "erasure": kindID, "request": kindID,
		"party": kindID, "keys": kindInt}
	for _, t := range casefile.ErasedTables {
		k[t] = kindInt
	}
	return k
}

// prefixedKinds classifies the fields named by a prefix and a code.
var prefixedKinds = map[string]valueKind{"reason.": kindInt, "masked.": kindInt, "param.": kindFloat}

var (
	idPattern         = regexp.MustCompile(`^[a-z]+_[0-9a-f]{24}$`)
	commitmentPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
	processPattern    = regexp.MustCompile(`^[A-Za-z0-9._-]+(:[0-9]+)?$`)
	codePattern       = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	accountPattern    = regexp.MustCompile(`^C-[0-9]{5}-[0-9]{5}$`)
	itemIDPattern     = regexp.MustCompile(`^it_[0-9a-f]{12}$`)
)

// knownPrefixes are the id prefixes of countersign's IDs and of the
// stores' own records.
var knownPrefixes = []string{countersign.PrefixTeam, countersign.PrefixUser, countersign.PrefixToken, countersign.PrefixCase,
	countersign.PrefixParty, countersign.PrefixNote, countersign.PrefixDraft, countersign.PrefixDecision, countersign.PrefixEntry,
	countersign.PrefixConsent, "ses", "sys", "system"}

func init() {
	knownPrefixes = append(knownPrefixes, agenda.PrefixEntry, agenda.PrefixFeed, agenda.PrefixFeedConsent,
		casefile.PrefixHold, casefile.PrefixRequest, casefile.PrefixErasure)
}

// EveryLoggedAction lists the actions this suite drives and checks: every
// action the service writes into the log. sqlstore's tests compare it with
// the Action constants of the source, so an action added later is driven
// here too. checkpoint.signed names no event: checkpoints are signed notes
// beside the log.
func EveryLoggedAction() []string {
	return []string{audit.ActionTeamCreated, audit.ActionUserCreated, "user.disabled", audit.ActionTokenCreated, audit.ActionTokenRevoked,
		"session.started", "session.ended", "session.purged",
		audit.ActionCaseCreated, audit.ActionPartyAdded, audit.ActionNoteAdded, audit.ActionConsentRecorded, audit.ActionConsentWithdrawn,
		audit.ActionDraftRequested, audit.ActionDraftClaimed, audit.ActionDraftGenerated, audit.ActionDraftFailed, audit.ActionDraftRetry,
		audit.ActionDraftRequeued, audit.ActionDraftOpened, audit.ActionDraftApproved, audit.ActionDraftRejected, audit.ActionDraftReassigned,
		audit.ActionDraftSuperseded, audit.ActionDraftCountersign, audit.ActionDraftVigilance, audit.ActionRecordSigned,
		audit.ActionRecordCorrected, audit.ActionRecordCorrectionPending, audit.ActionRecordCorrectionRefused,
		audit.ActionClientResponded, audit.ActionClientResponseAnswered, audit.ActionCaseRead,
		client.ActionAccountCreated, client.ActionInvitationCreated, client.ActionInvitationRevoked, client.ActionInvitationUsed,
		client.ActionPasskeyRegistered, client.ActionPassphraseSet, client.ActionSignedIn, client.ActionSignedOut,
		agenda.ActionEntryCreated, agenda.ActionEntryUpdated, agenda.ActionEntryClosed, agenda.ActionDeadlineEscalated,
		agenda.ActionFeedIssued, agenda.ActionFeedConsent,
		casefile.ActionCaseClosed, casefile.ActionCaseReopened, casefile.ActionHoldSet, casefile.ActionHoldLifted,
		casefile.ActionErasureRequested, casefile.ActionPartyErased, casefile.ActionCaseErased}
}

// checkPayloadValue says what is wrong with value as a field of kind k, or "".
func checkPayloadValue(k valueKind, field, value string, codes map[string][]string, provenance map[string]bool) string {
	isID := func(v string) bool {
		p, _, _ := strings.Cut(v, "_")
		return slices.Contains(knownPrefixes, p) && (idPattern.MatchString(v) || strings.HasPrefix(v, "system"))
	}
	switch k {
	case kindDate:
		if _, err := time.Parse(time.DateOnly, value); err != nil {
			return "not a date"
		}
	case kindItemID:
		if !itemIDPattern.MatchString(value) {
			return "not an item id"
		}
	case kindCodes:
		for v := range strings.SplitSeq(value, ",") {
			if !slices.Contains(codes[field], v) {
				return fmt.Sprintf("not codes of %v", codes[field])
			}
		}
	case kindAccount:
		if !accountPattern.MatchString(value) {
			return "not an account number"
		}
	case kindID:
		if value != "" && !isID(value) { // "": none, such as an admin's team
			return "not an identifier"
		}
	case kindIDs:
		for v := range strings.SplitSeq(value, ",") {
			if !isID(v) {
				return "not a list of identifiers"
			}
		}
	case kindCode:
		list, ok := codes[field]
		if !ok {
			return "a code without a list"
		}
		if !slices.Contains(list, value) {
			return fmt.Sprintf("not one of %v", list)
		}
	case kindInt:
		if _, err := strconv.ParseInt(value, 10, 64); err != nil {
			return "not a whole number"
		}
	case kindFloat:
		if _, err := strconv.ParseFloat(value, 64); err != nil {
			return "not a number"
		}
	case kindBool:
		if _, err := strconv.ParseBool(value); err != nil {
			return "not true or false"
		}
	case kindTime:
		_, err1 := time.Parse(time.RFC3339Nano, value)
		_, err2 := audit.ParseTime(value)
		if err1 != nil && err2 != nil {
			return "not a time"
		}
	case kindCommitment:
		if !commitmentPattern.MatchString(value) {
			return "not a hex digest"
		}
	case kindProcess:
		if !processPattern.MatchString(value) {
			return "not a process name"
		}
	case kindProvenance:
		if !provenance[value] {
			return "not the provenance the draft records"
		}
	}
	return ""
}

// payloadKind returns the kind of field in action's events.
func payloadKind(action, field string) (valueKind, bool) {
	if k, ok := payloadKinds[action][field]; ok {
		return k, true
	}
	if k, ok := payloadKinds["*"][field]; ok {
		return k, true
	}
	if strings.HasSuffix(field, "_sha256") || strings.HasSuffix(field, "_commitment") {
		return kindCommitment, true
	}
	for p, k := range prefixedKinds {
		if code, ok := strings.CutPrefix(field, p); ok && codePattern.MatchString(code) {
			return k, true
		}
	}
	return 0, false
}

// overloadedDrafter is a model endpoint that is overloaded: each failure
// is retried later.
type overloadedDrafter struct{}

func (overloadedDrafter) Draft(context.Context, assistant.Request) (*assistant.Result, error) {
	return nil, &assistant.ModelError{Op: "test.generate", Reason: "the model endpoint is overloaded", Temporary: true}
}

// approveAsRead is the approval of a reviewer who read every statement and
// item of d: statements confirmed (one removed, when there are several, for
// a reason code), items accepted.
func approveAsRead(d *review.Draft) review.Approval {
	var ap review.Approval
	if d.Content == nil {
		return ap
	}
	for i, s := range d.Content.Statements {
		if i == 0 && len(d.Content.Statements) > 1 {
			ap.Statements = append(ap.Statements, review.StatementDecision{ID: s.ID, Action: review.StatementRemoved, ReasonCode: "factual_error"})
			continue
		}
		ap.Statements = append(ap.Statements, review.StatementDecision{ID: s.ID, Action: review.StatementConfirmed, Comment: "Checked against the notes."})
	}
	for _, it := range d.Content.Items {
		ap.Items = append(ap.Items, review.ItemDecision{ID: it.ID, Accepted: true, Comment: "Checked against the notes."})
	}
	return ap
}

func exercisePayloads(t *testing.T, open func(t testing.TB) *sqlstore.DB) {
	t.Run("EveryEventHoldsOnlyIdsCodesNumbersTimesAndCommitments", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		clock := &Clock{}
		db.Now = clock.Now
		db.Policy = review.DefaultPolicy()
		db.Policy.CountersignKinds = []assistant.Kind{assistant.KindSummary}
		ctx := CLI()
		f := MustSeed(t, db) // teams, users, a case, a party, notes, consent
		wctx, sctx := As(ctx, f.Worker), As(ctx, f.Supervisor)

		// Users, tokens and web sessions.
		peer := mustUser(t, db, countersign.RoleWorker, f.Team.ID)
		tok, _, err := db.CreateToken(ctx, f.Worker.ID, "laptop", nil)
		ok(t, err)
		_, secret, err := db.CreateSession(ctx, tok.ID, time.Hour)
		ok(t, err)
		ok(t, db.EndSession(ctx, secret))
		_, _, err = db.CreateSession(ctx, tok.ID, time.Minute)
		ok(t, err)
		clock.Advance(time.Hour) // that session expires; the next start purges it
		_, _, err = db.CreateSession(ctx, tok.ID, time.Hour)
		ok(t, err)
		ok(t, db.RevokeToken(ctx, tok.ID))
		ok(t, db.DisableUser(ctx, f.Other.ID))

		// A note amending another, and a case opened with a configured type.
		ok(t, db.AddNote(wctx, &casefile.Note{CaseID: f.Case.ID, Body: "Correction: the visit was on Tuesday.", Amends: f.Notes[0].ID}))
		ok(t, db.CreateCase(wctx, &casefile.Case{Reference: countersign.NewID("ref"), Title: "Adult care", CaseType: "adult_social_care"}))

		// A summary signed and countersigned, its entry corrected twice: one
		// correction countersigned, one refused.
		sum := MustDraft(t, db, f, assistant.KindSummary)
		_, err = SignOff(db, wctx, sum.ID, approveAsRead(sum))
		ok(t, err)
		entry, err := Countersign(db, sctx, sum.ID, review.Countersign{})
		ok(t, err)
		corr, err := db.CorrectEntry(wctx, f.Case.ID, entry.ID, review.Correction{Content: "The referral was sent on Monday.", Reason: "Wrong day.", ConfirmHighStakes: true})
		ok(t, err)
		_, err = db.CountersignCorrection(sctx, f.Case.ID, corr.ID, "Checked.")
		ok(t, err)
		corr, err = db.CorrectEntry(wctx, f.Case.ID, corr.ID, review.Correction{Content: "The referral was never sent.", Reason: "Checked again.", ConfirmHighStakes: true})
		ok(t, err)
		_, err = db.RefuseCorrection(sctx, f.Case.ID, corr.ID, "The file says otherwise.")
		ok(t, err)

		// Suggestions signed alone; a draft rejected; one reassigned and then
		// superseded by a newer draft over the same notes; a countersignature
		// refused.
		sug := MustDraft(t, db, f, assistant.KindSuggestions)
		_, err = Approve(db, wctx, sug.ID, approveAsRead(sug))
		ok(t, err)
		rej := MustDraft(t, db, f, assistant.KindSuggestions)
		_, err = db.RejectDraft(wctx, rej.ID, review.Rejection{Reason: "not_needed", Comment: "We discussed this yesterday."})
		ok(t, err)
		moved := MustDraft(t, db, f, assistant.KindSuggestions)
		_, err = db.ReassignDraft(sctx, moved.ID, peer.ID)
		ok(t, err)
		MustDraft(t, db, f, assistant.KindSuggestions)
		refused := MustDraft(t, db, f, assistant.KindSummary)
		_, err = SignOff(db, wctx, refused.ID, approveAsRead(refused))
		ok(t, err)
		_, err = db.OpenDraft(sctx, refused.ID)
		ok(t, err)
		_, err = db.RejectDraft(sctx, refused.ID, review.Rejection{Reason: "incomplete"})
		ok(t, err)

		// A vigilance check caught.
		db.Policy.Vigilance, db.Policy.VigilanceRate = true, 1
		checked := MustDraft(t, db, f, assistant.KindSummary)
		_, err = db.RejectDraft(wctx, checked.ID, review.Rejection{Reason: "inaccurate"})
		ok(t, err)
		db.Policy.Vigilance = false

		// A model that is down: retried, then failed, then queued again by
		// the worker.
		down, err := db.RequestDraft(wctx, review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary, Language: "fr"})
		ok(t, err)
		r := &review.Runner{Store: db, Drafter: overloadedDrafter{}, Owner: "host-1:4242", MaxAttempts: 2, Backoff: time.Millisecond}
		ok(t, r.Drain(context.Background()))
		clock.Advance(time.Hour)
		ok(t, r.Drain(context.Background()))
		_, err = db.RetryDraft(wctx, down.ID)
		ok(t, err)

		// A letter to the client from the shared entries; the client answers
		// an entry of their file three times: their view attached, a
		// correction request declined, then one corrected.
		shr := MustDraft(t, db, f, assistant.KindSuggestions)
		shrAp := approveAsRead(shr)
		shrAp.Sharing = review.SharingShared
		shared, err := Approve(db, wctx, shr.ID, shrAp)
		ok(t, err)
		letter := MustDraft(t, db, f, assistant.KindLetter)
		cctx := client.NewContext(context.Background(), MustClientAccount(t, db, f.Case.ID, f.Client.ID, f.Client.FullName))
		for _, ans := range []client.Answer{{Outcome: client.OutcomeAttached},
			{Outcome: client.OutcomeDeclined, Reason: "The form was sent on Monday."},
			{Outcome: client.OutcomeCorrected, Content: "Send the energy fund form.", Reason: "She sent it.", ConfirmHighStakes: true}} {
			kind := client.ResponseCorrection
			if ans.Outcome == client.OutcomeAttached {
				kind = client.ResponseOwnView
			}
			resp, err := db.Respond(cctx, shared.ID, kind, "I never had that appointment.")
			ok(t, err)
			_, err = db.AnswerResponse(wctx, resp.ID, ans)
			ok(t, err)
		}

		// A client invited twice (the first letter replaced), then a third
		// time and revoked; signing in with a passphrase, then a passkey,
		// then out.
		invitee := &casefile.Party{CaseID: f.Case.ID, Role: "client", FullName: "Anna Peeters", Email: "anna@example.org", Language: "nl"}
		ok(t, db.AddParty(wctx, invitee))
		_, _, err = db.CreateInvitation(wctx, f.Case.ID, invitee.ID)
		ok(t, err)
		_, code2, err := db.CreateInvitation(sctx, f.Case.ID, invitee.ID)
		ok(t, err)
		cs, _, err := db.Redeem(ctx, client.Redemption{Code: code2, Passphrase: "blue kettle on the stairs", Kind: client.KindToken})
		ok(t, err)
		inv3, code3, err := db.CreateInvitation(wctx, f.Case.ID, invitee.ID)
		ok(t, err)
		ok(t, db.RevokeInvitation(wctx, f.Case.ID, invitee.ID, inv3.ID))
		_, _, err = db.Redeem(ctx, client.Redemption{Code: code3, Passphrase: "blue kettle on the stairs", Kind: client.KindToken})
		code(t, err, countersign.EUNAUTHORIZED)
		_, code4, err := db.CreateInvitation(wctx, f.Case.ID, invitee.ID)
		ok(t, err)
		cer, _, err := db.StartCeremony(ctx, code4)
		ok(t, err)
		_, _, err = db.Redeem(ctx, client.Redemption{Ceremony: cer, Passkey: &client.Passkey{CredentialID: []byte("credential"), Credential: []byte("{}")}, Kind: client.KindBrowser})
		ok(t, err)
		login, _, err := db.StartCeremony(ctx, "")
		ok(t, err)
		_, browser, err := db.SignInWithPasskey(ctx, login, []byte("credential"), []byte("{}"), "fr")
		ok(t, err)
		ok(t, db.EndClientSession(ctx, browser))
		_, _, err = db.SignInWithPassphrase(ctx, client.SignInFilter{AccountID: cs.AccountID}, "blue kettle on the stairs", client.KindBrowser, "")
		ok(t, err)

		// The agenda: the signed suggestions brought entries already; a
		// worker adds a hard deadline already overdue (it escalates) and an
		// appointment, a supervisor retitles the deadline, the appointment
		// moves, the deadline is closed as missed; a worker's feed, twice,
		// and the client's with their consent.
		today := clock.Now().In(time.UTC)
		overdue, err := db.CreateEntry(wctx, f.Case.ID, agenda.Input{Kind: agenda.KindHardDeadline, Date: today.AddDate(0, 0, -2).Format(time.DateOnly), Title: "Appeal to the housing court"})
		ok(t, err)
		retitled := "Appeal to the housing court, second hearing"
		_, err = db.UpdateEntry(sctx, overdue.ID, agenda.Update{Title: &retitled})
		ok(t, err)
		appt, err := db.CreateEntry(wctx, f.Case.ID, agenda.Input{Kind: agenda.KindAppointment, Date: today.AddDate(0, 0, 10).Format(time.DateOnly), Time: "10:00", Title: "Job centre with Marie"})
		ok(t, err)
		_, _, err = db.CloseEntry(wctx, appt.ID, agenda.Close{Outcome: agenda.OutcomeMoved, NewDate: today.AddDate(0, 0, 12).Format(time.DateOnly)})
		ok(t, err)
		_, err = db.DeliverReminders(ctx, 100)
		ok(t, err)
		_, _, err = db.CloseEntry(wctx, overdue.ID, agenda.Close{Outcome: agenda.OutcomeMissed, Reason: "The letter reached her too late."})
		ok(t, err)
		_, err = db.IssueFeed(wctx)
		ok(t, err)
		_, err = db.IssueFeed(wctx)
		ok(t, err)
		_, err = db.IssueClientFeed(client.NewContext(ctx, client.Principal{AccountID: cs.AccountID, Language: "nl",
			Parties: []client.PartyRef{{CaseID: f.Case.ID, PartyID: invitee.ID}}}), true)
		ok(t, err)

		// Retention: a second case closed, reopened and closed again, held
		// and released, one person's details erased on request, then the
		// whole case (MustEraseOnRequest: closed, requested, confirmed).
		g := MustSeed(t, db)
		gs := As(ctx, g.Supervisor)
		MustDraft(t, db, g, assistant.KindSuggestions) // superseded by the closure
		_, err = db.CloseCase(gs, g.Case.ID, "client_moved")
		ok(t, err)
		_, err = db.ReopenCase(gs, g.Case.ID)
		ok(t, err)
		h, err := db.SetHold(gs, g.Case.ID, "complaint")
		ok(t, err)
		_, err = db.LiftHold(As(ctx, g.Admin), g.Case.ID, h.ID, "resolved")
		ok(t, err)
		pr, err := db.RequestErasure(As(ctx, g.Admin), g.Case.ID, g.Client.ID, "data_subject_request")
		ok(t, err)
		_, err = db.ConfirmErasure(As(ctx, f.Admin), pr.ID)
		ok(t, err)
		MustEraseOnRequest(t, db, g)

		// A worker reads a draft: the read is logged for the client.
		ok(t, db.RecordRead(wctx, client.Read{CaseID: f.Case.ID, What: client.ReadDraft, TargetID: sum.ID}))

		// The client withdraws consent while that draft waits.
		ok(t, db.RecordConsent(wctx, &casefile.Consent{CaseID: f.Case.ID, Given: false, Note: "She prefers that her worker writes everything."}))
		_, err = db.Sequence(ctx)
		ok(t, err)

		provenance := map[string]bool{}
		for _, id := range []string{sum.ID, sug.ID, letter.ID} {
			d, err := db.FindDraftByID(wctx, id)
			ok(t, err)
			provenance[d.Model], provenance[d.Provider], provenance[d.PromptVersion] = true, true, true
			if d.DetectorVersion != "" {
				provenance[d.DetectorVersion] = true
			}
		}
		codes := payloadCodes(db.Policy)
		seen := map[string]int{}
		ok(t, db.EachEvent(ctx, 0, func(e *audit.Event) error {
			seen[e.Action]++
			for field, value := range e.Payload {
				k, known := payloadKind(e.Action, field)
				if !known {
					t.Errorf("event %d (%s): payload field %q has no kind: classify it in storetest/payloads.go", e.Seq, e.Action, field)
					continue
				}
				if problem := checkPayloadValue(k, field, value, codesFor(codes, e.Action), provenance); problem != "" {
					t.Errorf("event %d (%s): %s=%q is %s", e.Seq, e.Action, field, value, problem)
				}
			}
			return nil
		}))
		for _, a := range EveryLoggedAction() {
			if seen[a] == 0 {
				t.Errorf("no %s event was written: the walk does not cover every action", a)
			}
		}
		for a := range seen {
			if !slices.Contains(EveryLoggedAction(), a) {
				t.Errorf("the log holds %s events, which EveryLoggedAction does not list", a)
			}
		}
	})

	t.Run("ACaseTypeOutsideThePolicysListIsRefused", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		wctx := As(CLI(), f.Worker)
		before := eventCount(t, db)
		err := db.CreateCase(wctx, &casefile.Case{Reference: countersign.NewID("ref"), Title: "t", CaseType: "suspected diabetes, lives alone"})
		code(t, err, countersign.EINVALID)
		if fe := countersign.ErrorFields(err); len(fe) != 1 || fe[0].Field != "case_type" || !strings.Contains(fe[0].Message, "adult_social_care") {
			t.Fatalf("refusal names %+v, want case_type with the allowed values", fe)
		}
		db.Policy = review.DefaultPolicy()
		db.Policy.CaseTypes = []string{"general", "youth_justice"}
		ok(t, db.CreateCase(wctx, &casefile.Case{Reference: countersign.NewID("ref"), Title: "t", CaseType: "youth_justice"}))
		code(t, db.CreateCase(wctx, &casefile.Case{Reference: countersign.NewID("ref"), Title: "t", CaseType: "housing"}), countersign.EINVALID)
		c := &casefile.Case{Reference: countersign.NewID("ref"), Title: "t"}
		ok(t, db.CreateCase(wctx, c))
		if c.CaseType != casefile.GeneralCaseType {
			t.Fatalf("a case opened without a type is %q", c.CaseType)
		}
		if got := eventCount(t, db); got != before+2 {
			t.Fatalf("%d events for two cases opened", got-before)
		}
		code(t, db.AddParty(wctx, &casefile.Party{CaseID: f.Case.ID, Role: "neighbour who called", FullName: "X"}), countersign.EINVALID)
	})
}

// codesFor returns codes as action's events read them: a list keyed
// "action:field" stands for field's.
func codesFor(codes map[string][]string, action string) map[string][]string {
	out := make(map[string][]string, len(codes))
	for k, v := range codes {
		out[k] = v
	}
	for k, v := range codes {
		if a, field, ok := strings.Cut(k, ":"); ok && a == action {
			out[field] = v
		}
	}
	return out
}

// payloadCodes lists the codes each code field may hold.
func payloadCodes(p *review.Policy) map[string][]string {
	statuses := []string{}
	for _, s := range []review.Status{review.StatusQueued, review.StatusGenerating, review.StatusPendingReview, review.StatusAwaitingCountersign,
		review.StatusApproved, review.StatusRejected, review.StatusFailed, review.StatusSuperseded} {
		statuses = append(statuses, string(s))
	}
	roles := []string{}
	for _, r := range []countersign.Role{countersign.RoleWorker, countersign.RoleSupervisor, countersign.RoleEthics, countersign.RoleAdmin} {
		roles = append(roles, string(r))
	}
	var agendaKinds, agendaOutcomes []string
	for _, k := range agenda.Kinds {
		agendaKinds = append(agendaKinds, string(k))
	}
	for _, o := range agenda.Outcomes {
		agendaOutcomes = append(agendaOutcomes, string(o))
	}
	return map[string][]string{
		"kind":            {string(assistant.KindSummary), string(assistant.KindSuggestions), string(assistant.KindLetter)},
		"response_kind":   {string(client.ResponseCorrection), string(client.ResponseOwnView)},
		"sharing":         {review.SharingShared, review.SharingWithheld},
		"withheld_reason": review.WithheldReasons,
		"what":            client.ReadKinds,
		"method":          {"invitation", "passphrase", "passkey"},
		"session_kind":    {string(client.KindToken), string(client.KindBrowser)},
		"answer":          {string(client.OutcomeCorrected), string(client.OutcomeDeclined), string(client.OutcomeAttached)},
		"stage":           append(slices.Clone(statuses), "countersign"),
		"previous_status": statuses,
		"reason":          review.RejectReasons,
		"outcome":         {review.VigilanceCaught, review.VigilanceMissed},
		"role":            append(roles, casefile.PartyRoles...),
		"case_type":       p.CaseTypes,
		"language":        append([]string{""}, assistant.Languages...),
		"cause":           {"consent_withdrawn", review.CauseCaseAssigned, review.CauseCaseClosed},
		"previous":        {"none", "given", "withdrawn"},
		// The agenda's codes, by action (codesFor).
		agenda.ActionEntryCreated + ":kind":    agendaKinds,
		agenda.ActionEntryCreated + ":source":  {"draft", "worker", "moved"},
		agenda.ActionEntryUpdated + ":kind":    agendaKinds,
		agenda.ActionEntryUpdated + ":changed": {"kind", "date", "time", "title", "shared", agenda.ChangedOwner},
		agenda.ActionEntryClosed + ":kind":     agendaKinds,
		agenda.ActionEntryClosed + ":outcome":  agendaOutcomes,
		agenda.ActionFeedIssued + ":owner":     {"staff"},
		// Retention's codes, by action.
		casefile.ActionCaseClosed + ":reason":       casefile.CloseReasons,
		casefile.ActionHoldSet + ":reason":          casefile.HoldReasons,
		casefile.ActionHoldLifted + ":reason":       casefile.HoldReasons,
		casefile.ActionErasureRequested + ":reason": casefile.ErasureReasons,
		casefile.ActionCaseErased + ":reason":       append([]string{"retention_expired"}, casefile.ErasureReasons...),
		casefile.ActionPartyErased + ":reason":      casefile.ErasureReasons,
		"rule":                                      {casefile.RuleRetention, casefile.RuleRequest},
	}
}
