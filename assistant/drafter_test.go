package assistant

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign"
)

// funcModel is a Model whose answers a test scripts.
type funcModel struct {
	onPrem       bool
	GenerateFunc func(ctx context.Context, p *Prompt) (*Completion, error)
}

func (m *funcModel) Name() string     { return "scripted" }
func (m *funcModel) Provider() string { return "test" }
func (m *funcModel) OnPremises() bool { return m.onPrem }
func (m *funcModel) Generate(ctx context.Context, p *Prompt) (*Completion, error) {
	return m.GenerateFunc(ctx, p)
}

var _ Model = (*funcModel)(nil)

// answers returns a GenerateFunc that answers with texts in turn and
// records the prompts it was given.
func answers(prompts *[]*Prompt, texts ...string) func(context.Context, *Prompt) (*Completion, error) {
	return func(_ context.Context, p *Prompt) (*Completion, error) {
		*prompts = append(*prompts, p)
		text := texts[min(len(*prompts), len(texts))-1]
		return &Completion{Text: text, FinishReason: "stop", RequestBody: []byte(p.User), ResponseBody: []byte(text)}, nil
	}
}

var drafterNotes = []Note{{ID: "n1", Body: "Jean-Pierre Müller fears eviction. Call him on 0470 12 34 56."}}

func TestDrafter(t *testing.T) {
	t.Parallel()
	now := func() time.Time { return testNow }

	t.Run("RejectsInvalidRequests", func(t *testing.T) {
		t.Parallel()
		d := &Drafter{Model: Extractive{}, Now: now, MaxInput: 100}
		tests := []struct {
			name string
			req  Request
		}{
			{"UnknownKind", Request{Kind: "poem", Notes: drafterNotes}},
			{"UnknownLanguage", Request{Kind: KindSummary, Language: "es", Notes: drafterNotes}},
			{"NoNotes", Request{Kind: KindSummary}},
			{"DuplicateNote", Request{Kind: KindSummary, Notes: append(drafterNotes, drafterNotes...)}},
			{"TooMuchText", Request{Kind: KindSummary, Notes: []Note{{ID: "n1", Body: strings.Repeat("x", 101)}}}},
		}
		for _, tt := range tests {
			if _, err := d.Draft(context.Background(), tt.req); countersign.ErrorCode(err) != countersign.EINVALID {
				t.Errorf("%s: err = %v, want EINVALID", tt.name, err)
			}
		}
	})

	t.Run("MasksAndRestoresOffPremises", func(t *testing.T) {
		t.Parallel()
		var prompts []*Prompt
		m := &funcModel{GenerateFunc: answers(&prompts,
			`{"language":"en","statements":[{"id":"s1","text":"[PERSON_1] fears eviction; call [PHONE_1].","category":"risk","citations":[{"note_id":"n1","quote":"[PERSON_1] fears eviction. Call him on [PHONE_1]"}]}]}`)}
		d := &Drafter{Model: m, Now: now}
		res, err := d.Draft(context.Background(), Request{Kind: KindSummary, Notes: drafterNotes,
			Parties: []Party{{Role: "client", FullName: "Jean-Pierre Müller", Phone: "0470123456"}}})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(prompts[0].User, "Müller") || strings.Contains(prompts[0].User, "0470") || strings.Contains(prompts[0].Notes[0].Body, "Müller") {
			t.Fatalf("personal data sent:\n%s", prompts[0].User)
		}
		s := res.Content.Statements[0]
		if s.Text != "Jean-Pierre Müller fears eviction; call 0470 12 34 56." || s.Citations[0].Quote != "Jean-Pierre Müller fears eviction. Call him on 0470 12 34 56" || s.Ungrounded {
			t.Fatalf("statement = %+v", s)
		}
		if !res.Pseudonymised || res.Masked[MaskPerson] != 1 || res.Masked[MaskPhone] != 1 {
			t.Fatalf("pseudonymised = %v, masked = %v", res.Pseudonymised, res.Masked)
		}
		if res.RequestHash != hashHex([]byte(prompts[0].User)) {
			t.Fatal("request hash is not the hash of what was sent")
		}
	})

	t.Run("SendsRawTextOnPremises", func(t *testing.T) {
		t.Parallel()
		var prompts []*Prompt
		m := &funcModel{onPrem: true, GenerateFunc: answers(&prompts,
			`{"language":"en","statements":[{"id":"s1","text":"He fears eviction.","category":"","citations":[{"note_id":"n1","quote":"fears eviction"}]}]}`)}
		d := &Drafter{Model: m, Now: now}
		res, err := d.Draft(context.Background(), Request{Kind: KindSummary, Notes: drafterNotes, Parties: []Party{{FullName: "Jean-Pierre Müller"}}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Pseudonymised || !strings.Contains(prompts[0].User, "Jean-Pierre Müller") {
			t.Fatal("on-premises model got masked notes")
		}
	})

	t.Run("FlagsUngroundedStatements", func(t *testing.T) {
		t.Parallel()
		var prompts []*Prompt
		m := &funcModel{GenerateFunc: answers(&prompts,
			`{"language":"en","statements":[`+
				`{"id":"s1","text":"He fears eviction.","category":"","citations":[{"note_id":"n1","quote":"[PERSON_1] fears eviction. Call him"}]},`+
				`{"id":"s2","text":"[PERSON_1] is violent.","category":"risk","citations":[{"note_id":"n1","quote":"[PERSON_1] is violent"}]},`+
				`{"id":"s3","text":"[PERSON_1] does not fear eviction.","category":"","citations":[{"note_id":"n1","quote":"[PERSON_1] fears eviction. Call him"}]}]}`)}
		d := &Drafter{Model: m, Now: now}
		res, err := d.Draft(context.Background(), Request{Kind: KindSummary, Notes: drafterNotes, Parties: []Party{{FullName: "Jean-Pierre Müller"}}})
		if err != nil {
			t.Fatal(err)
		}
		s := res.Content.Statements[1]
		if res.Ungrounded != 2 || !s.Ungrounded || s.Citations[0].Quote != "Jean-Pierre Müller is violent" || s.UngroundedCode != UngroundedQuoteNotFound {
			t.Fatalf("ungrounded = %d, statement = %+v", res.Ungrounded, s)
		}
		if s := res.Content.Statements[2]; !s.Ungrounded || s.UngroundedCode != UngroundedNegation || s.UngroundedReason == "" || s.Text != "Jean-Pierre Müller does not fear eviction." {
			t.Fatalf("a negation its quote does not make is grounded: %+v", s)
		}
		// The model's ids are replaced by opaque random ones.
		for _, s := range res.Content.Statements {
			if !strings.HasPrefix(s.ID, "st_") || len(s.ID) != len("st_")+12 {
				t.Fatalf("statement id %q is not opaque", s.ID)
			}
		}
	})

	t.Run("RetriesOnceThenFails", func(t *testing.T) {
		t.Parallel()
		var prompts []*Prompt
		d := &Drafter{Model: &funcModel{GenerateFunc: answers(&prompts, `{"language":"en"`)}, Now: now}
		res, err := d.Draft(context.Background(), Request{Kind: KindSummary, Notes: drafterNotes})
		var oe *OutputError
		if !errors.As(err, &oe) || len(prompts) != 2 {
			t.Fatalf("err = %v after %d calls", err, len(prompts))
		}
		// The failure keeps its provenance for the audit log.
		if res == nil || res.Attempts != 2 || res.RequestHash != hashHex([]byte(prompts[1].User)) || len(res.Content.Statements) != 0 {
			t.Fatalf("result = %+v", res)
		}
		if !strings.Contains(prompts[1].User, "Your previous answer was rejected: the answer is empty or incomplete JSON.") {
			t.Fatalf("retry prompt:\n%s", prompts[1].User)
		}
	})

	t.Run("FailsOnACutOffAnswer", func(t *testing.T) {
		t.Parallel()
		m := &funcModel{GenerateFunc: func(context.Context, *Prompt) (*Completion, error) {
			return &Completion{Text: `{"lang`, FinishReason: "length"}, nil
		}}
		d := &Drafter{Model: m, Now: now}
		_, err := d.Draft(context.Background(), Request{Kind: KindSummary, Notes: drafterNotes})
		if !errors.Is(err, ErrCutOff) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("PassesModelErrorsThrough", func(t *testing.T) {
		t.Parallel()
		m := &funcModel{GenerateFunc: func(context.Context, *Prompt) (*Completion, error) {
			return nil, &ModelError{Op: "test", Reason: "The model service is down.", Temporary: true}
		}}
		d := &Drafter{Model: m, Now: now}
		_, err := d.Draft(context.Background(), Request{Kind: KindSummary, Notes: drafterNotes})
		if FailureReason(err) != "The model service is down. Try again in a few minutes." {
			t.Fatalf("reason = %q", FailureReason(err))
		}
	})

	t.Run("FollowsTheNotesLanguageUnlessAsked", func(t *testing.T) {
		t.Parallel()
		d := &Drafter{Model: Extractive{}, Now: now}
		fr := []Note{{ID: "n1", Body: "Elle a dit que le loyer n'est pas payé et qu'il doit appeler le bureau."}}
		res, err := d.Draft(context.Background(), Request{Kind: KindSummary, Notes: fr})
		if err != nil || res.Content.Language != "fr" {
			t.Fatalf("language = %v, err = %v", res, err)
		}
		res, err = d.Draft(context.Background(), Request{Kind: KindSummary, Notes: fr, Language: "de"})
		if err != nil || res.Content.Language != "de" {
			t.Fatalf("language = %v, err = %v", res, err)
		}
	})
}

func TestExtractive(t *testing.T) {
	t.Parallel()
	d := &Drafter{Model: Extractive{}, Now: func() time.Time { return testNow }, Directory: []Service{
		{ID: "svc_debt", Name: "Schuldhulpverlening", Description: "Hulp bij schulden en budgetbeheer."},
		{ID: "svc_youth", Name: "Youth Care", Description: "Support for teenagers and parents."},
	}}
	notes := []Note{{ID: "n1", Body: "Hij heeft schulden bij de energieleverancier. Afspraak met de huisarts op 3 juni om 14u.\n" +
		"Hij moet het formulier vóór 20/05 indienen. Zijn dochter is bang voor geweld thuis."}}

	res, err := d.Draft(context.Background(), Request{Kind: KindSuggestions, Notes: notes})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ungrounded != 0 || res.Provider != "offline" || res.Model != "extractive-v1" || res.Pseudonymised {
		t.Fatalf("result = %+v", res)
	}
	types := map[string]Item{}
	for _, it := range res.Content.Items {
		types[it.Type] = it
	}
	if types[ItemAppointment].Due != "2024-06-03" || types[ItemDeadline].Due != "2024-05-20" {
		t.Fatalf("items = %+v", res.Content.Items)
	}
	if types[ItemReferral].ServiceID != "svc_debt" || types[ItemRisk].ID == "" {
		t.Fatalf("items = %+v", res.Content.Items)
	}
	for _, it := range res.Content.Items {
		if it.ServiceID == "svc_youth" {
			t.Fatalf("referral without a matching need: %+v", it)
		}
	}

	res, err = d.Draft(context.Background(), Request{Kind: KindSummary, Notes: notes})
	if err != nil || res.Ungrounded != 0 || len(res.Content.Statements) != perNote || res.Content.Language != "nl" {
		t.Fatalf("summary = %+v, err = %v", res, err)
	}
}

// BenchmarkDraftZeroLatency measures the drafter's own overhead per draft —
// pseudonymisation, prompt rendering, validation, grounding — with the
// extractive model standing in for a zero-latency model. The extractive
// model is on the premises, so the benchmark forces pseudonymisation by
// wrapping it.
func BenchmarkDraftZeroLatency(b *testing.B) {
	parties := testParties
	var notes []Note
	for i := range 10 {
		notes = append(notes, Note{ID: "n" + string(rune('a'+i)), Body: strings.Repeat(
			"Visit with Jean-Pierre Müller; he fears eviction and must call the housing office before 15 May 2024. "+
				"Reach him on 0470 12 34 56. His neighbour Anneke helps. ", 4)})
	}
	d := &Drafter{Model: offPremises{Extractive{}}, Now: func() time.Time { return testNow }}
	for _, kind := range []Kind{KindSummary, KindSuggestions} {
		b.Run(string(kind), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.Draft(context.Background(), Request{Kind: kind, Notes: notes, Parties: parties}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// offPremises makes a model count as remote, so that notes are pseudonymised.
type offPremises struct{ Model }

func (offPremises) OnPremises() bool { return false }
