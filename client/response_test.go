package client_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/review"
)

var now = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func principal() client.Principal {
	return client.Principal{AccountID: "cla_1", Name: "Marie Dubois", Language: "fr",
		Parties: []client.PartyRef{{CaseID: "case_1", PartyID: "pty_1"}}}
}

func entry() *review.Entry {
	return &review.Entry{ID: "rec_1", CaseID: "case_1", Kind: "summary", Content: "Marie has two months of rent arrears.",
		SignedBy: "usr_w", SignedAt: now.Add(-time.Hour), Sharing: review.SharingShared, Salt: audit.NewSalt()}
}

func respond(e *review.Entry, shared bool, kind client.ResponseKind, text string) (*client.Response, []audit.Record, error) {
	if e != nil && !shared {
		e.Sharing, e.WithheldReason = review.SharingWithheld, review.WithheldThirdParty
	}
	return client.DecideResponse(client.ResponseInput{Principal: principal(), Entry: e, Kind: kind, Text: text, Now: now})
}

func TestDecideResponse(t *testing.T) {
	const text = "I paid the rent in November; the arrears are one month, not two."
	r, evs, err := respond(entry(), true, client.ResponseCorrection, "  "+text+"\n")
	if err != nil {
		t.Fatal(err)
	}
	if r.Text != text || r.Status != client.ResponseOpen || r.PartyID != "pty_1" || r.CaseID != "case_1" || r.Type != client.ResponseType {
		t.Fatalf("response %+v", r)
	}
	if len(evs) != 1 || evs[0].Action != audit.ActionClientResponded || evs[0].Actor.Role != countersign.RoleClient {
		t.Fatalf("events %+v", evs)
	}
	// The log commits to the text and never holds it.
	b, _ := json.Marshal(evs[0].Payload)
	if strings.Contains(string(b), "arrears") || evs[0].Payload["text_commitment"] != audit.Commit(r.Salt, r.Text) {
		t.Fatalf("payload %s", b)
	}

	for name, c := range map[string]struct {
		e      *review.Entry
		shared bool
		kind   client.ResponseKind
		text   string
		code   string
		field  string
	}{
		"unknown kind":    {entry(), true, "complaint", text, countersign.EINVALID, "kind"},
		"empty text":      {entry(), true, client.ResponseOwnView, "   ", countersign.EINVALID, "text"},
		"too long":        {entry(), true, client.ResponseOwnView, strings.Repeat("é", client.MaxResponseChars+1), countersign.EINVALID, "text"},
		"NUL":             {entry(), true, client.ResponseOwnView, "a\x00b", countersign.EINVALID, "text"},
		"withheld":        {entry(), false, client.ResponseOwnView, text, countersign.ENOTFOUND, ""},
		"no such entry":   {nil, true, client.ResponseOwnView, text, countersign.ENOTFOUND, ""},
		"another case":    {func() *review.Entry { e := entry(); e.CaseID = "case_2"; return e }(), true, client.ResponseOwnView, text, countersign.ENOTFOUND, ""},
		"pending version": {func() *review.Entry { e := entry(); e.Pending = true; return e }(), true, client.ResponseOwnView, text, countersign.ENOTFOUND, ""},
		"corrected since": {func() *review.Entry { e := entry(); e.SupersededBy = "rec_2"; return e }(), true, client.ResponseCorrection, text, countersign.ECONFLICT, ""},
	} {
		_, evs, err := respond(c.e, c.shared, c.kind, c.text)
		if countersign.ErrorCode(err) != c.code || evs != nil {
			t.Errorf("%s: %v, want %s", name, err, c.code)
			continue
		}
		if fe := countersign.ErrorFields(err); c.field != "" && (len(fe) != 1 || fe[0].Field != c.field) {
			t.Errorf("%s: fields %+v, want %s", name, fe, c.field)
		}
	}
	// Another case's entry and a missing one answer alike: a client never
	// learns whether another case exists.
	_, _, e1 := respond(nil, true, client.ResponseOwnView, text)
	other := entry()
	other.CaseID = "case_2"
	_, _, e2 := respond(other, true, client.ResponseOwnView, text)
	if e1.Error() != e2.Error() {
		t.Fatalf("%q and %q differ", e1, e2)
	}
	_, _, err = client.DecideResponse(client.ResponseInput{Principal: principal(), Entry: entry(),
		Kind: client.ResponseOwnView, Text: text, Open: client.MaxOpenResponses, Now: now})
	if countersign.ErrorCode(err) != countersign.ECONFLICT {
		t.Fatalf("a flood: %v", err)
	}
}

func TestDecideAnswer(t *testing.T) {
	worker := countersign.Actor{UserID: "usr_w", Name: "Wendy Worker", Role: countersign.RoleWorker, TeamID: "team_1"}
	cs := &casefile.Case{ID: "case_1", TeamID: "team_1", WorkerID: "usr_w"}
	open := func(kind client.ResponseKind) *client.Response {
		r, _, err := respond(entry(), true, kind, "The arrears are one month, not two.")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	answer := func(a countersign.Actor, r *client.Response, ans client.Answer) (*client.AnswerResult, error) {
		return client.DecideAnswer(client.AnswerInput{Actor: a, Case: cs, Response: r, Entry: entry(), Answer: ans,
			Policy: review.DefaultPolicy(), Now: now})
	}

	res, err := answer(worker, open(client.ResponseCorrection), client.Answer{Outcome: client.OutcomeDeclined,
		Reason: "The rent office confirmed two months on 1 December."})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Response
	if r.Status != client.ResponseAnswered || r.Outcome != client.OutcomeDeclined || r.AnsweredBy != "usr_w" || res.Correction != nil {
		t.Fatalf("declined: %+v", r)
	}
	if ev := res.Events[len(res.Events)-1]; ev.Action != audit.ActionClientResponseAnswered || ev.Payload["answer"] != "declined" ||
		ev.Payload["reason_commitment"] != audit.Commit(r.Salt, r.Reason) {
		t.Fatalf("event %+v", ev)
	}

	res, err = answer(worker, open(client.ResponseCorrection), client.Answer{Outcome: client.OutcomeCorrected,
		Content: "Marie has one month of rent arrears.", Reason: "The client showed the November receipt."})
	if err != nil {
		t.Fatal(err)
	}
	if res.Correction == nil || res.Response.CorrectionID != res.Correction.Entry.ID || res.Correction.Entry.Supersedes != "rec_1" ||
		res.Response.CorrectionStatus != client.CorrectionInForce {
		t.Fatalf("corrected: %+v", res)
	}
	if len(res.Events) != 2 || res.Events[0].Action != audit.ActionRecordCorrected || res.Events[1].Payload["correction"] != res.Correction.Entry.ID {
		t.Fatalf("corrected events: %+v", res.Events)
	}

	res, err = answer(worker, open(client.ResponseOwnView), client.Answer{Outcome: client.OutcomeAttached})
	if err != nil || res.Response.Outcome != client.OutcomeAttached {
		t.Fatalf("attached: %v", err)
	}

	// A countersigned entry's correction waits for a supervisor.
	cse := entry()
	cse.CountersignedBy = "usr_s"
	res, err = client.DecideAnswer(client.AnswerInput{Actor: worker, Case: cs, Response: open(client.ResponseCorrection), Entry: cse,
		Answer: client.Answer{Outcome: client.OutcomeCorrected, Content: "Marie has one month of rent arrears."}, Policy: review.DefaultPolicy(), Now: now})
	if err != nil || res.Response.CorrectionStatus != client.CorrectionPending || res.Events[0].Action != audit.ActionRecordCorrectionPending {
		t.Fatalf("pending correction: %v %+v", err, res)
	}

	other := countersign.Actor{UserID: "usr_o", Role: countersign.RoleWorker, TeamID: "team_2"}
	ethics := countersign.Actor{UserID: "usr_e", Role: countersign.RoleEthics}
	answered := *open(client.ResponseOwnView)
	answered.Status = client.ResponseAnswered
	for name, c := range map[string]struct {
		a     countersign.Actor
		r     *client.Response
		ans   client.Answer
		code  string
		field string
	}{
		"decline without reason":  {worker, open(client.ResponseCorrection), client.Answer{Outcome: client.OutcomeDeclined, Reason: " "}, countersign.EINVALID, "reason"},
		"unknown outcome":         {worker, open(client.ResponseCorrection), client.Answer{Outcome: "ignored"}, countersign.EINVALID, "outcome"},
		"correction without text": {worker, open(client.ResponseCorrection), client.Answer{Outcome: client.OutcomeCorrected}, countersign.EINVALID, "content"},
		"text without correction": {worker, open(client.ResponseOwnView), client.Answer{Outcome: client.OutcomeAttached, Content: "x"}, countersign.EINVALID, "content"},
		"reason too long":         {worker, open(client.ResponseOwnView), client.Answer{Outcome: client.OutcomeDeclined, Reason: strings.Repeat("x", client.MaxReasonChars+1)}, countersign.EINVALID, "reason"},
		"another team":            {other, open(client.ResponseOwnView), client.Answer{Outcome: client.OutcomeAttached}, countersign.EFORBIDDEN, ""},
		"ethics board":            {ethics, open(client.ResponseOwnView), client.Answer{Outcome: client.OutcomeAttached}, countersign.EFORBIDDEN, ""},
		"answered already":        {worker, &answered, client.Answer{Outcome: client.OutcomeAttached}, countersign.ECONFLICT, ""},
	} {
		_, err := answer(c.a, c.r, c.ans)
		if countersign.ErrorCode(err) != c.code {
			t.Errorf("%s: %v, want %s", name, err, c.code)
			continue
		}
		if fe := countersign.ErrorFields(err); c.field != "" && (len(fe) == 0 || fe[0].Field != c.field) {
			t.Errorf("%s: fields %+v, want %s", name, fe, c.field)
		}
	}
}

func TestLetterFrame(t *testing.T) {
	for _, lang := range []string{"en", "fr", "nl", "de"} {
		g, c := client.LetterFrame(lang)
		if strings.Count(g, "%s") != 1 || strings.Count(c, "%s") != 1 {
			t.Errorf("%s: the frame %q … %q does not take one name each", lang, g, c)
		}
	}
	if g, _ := client.LetterFrame("xx"); g != "Dear %s," {
		t.Errorf("an unknown language frames the letter with %q", g)
	}
}
