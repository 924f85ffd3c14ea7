package assistant

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestResolveYear(t *testing.T) {
	t.Parallel()
	dec1 := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
	dec20 := time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC)
	jan10 := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		day, month int
		anchor     time.Time
		tense      int
		want       string
	}{
		{"NearestIsJustGone", 28, 11, dec1, tenseUnknown, "2026-11-28"},
		{"PastJustGone", 28, 11, dec1, tensePast, "2026-11-28"},
		{"FutureIsNextYear", 28, 11, dec1, tenseFuture, "2027-11-28"},
		{"NearestIsNextYear", 3, 1, dec20, tenseUnknown, "2027-01-03"},
		{"PastStaysThisYear", 3, 1, dec20, tensePast, "2026-01-03"},
		{"NearestIsLastYear", 15, 12, jan10, tenseUnknown, "2025-12-15"},
		{"FutureFromJanuary", 15, 12, jan10, tenseFuture, "2026-12-15"},
		{"SameDay", 1, 12, dec1, tenseFuture, "2026-12-01"},
		{"LeapDayFindsALeapYear", 29, 2, time.Date(2027, 12, 1, 0, 0, 0, 0, time.UTC), tenseUnknown, "2028-02-29"},
	}
	for _, tt := range tests {
		got, ok := resolveYear(tt.day, tt.month, tt.anchor, tt.tense)
		if !ok || got.Format(time.DateOnly) != tt.want {
			t.Errorf("%s: resolveYear(%d/%d, %s, %d) = %s, %v; want %s", tt.name, tt.day, tt.month, tt.anchor.Format(time.DateOnly), tt.tense, got.Format(time.DateOnly), ok, tt.want)
		}
	}
}

func TestTenseOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		want int
	}{
		{"On a eu un rendez-vous le 28 novembre.", tensePast},
		{"Le rendez-vous aura lieu le 3 janvier.", tenseFuture},
		{"The meeting was on 5 March.", tensePast},
		{"Next visit on 5 March.", tenseFuture},
		{"She will see the doctor on 5 March.", tenseFuture},
		{"Afspraak op 3 januari.", tenseUnknown},
		{"De vorige afspraak op 3 januari ging goed.", tensePast},
		{"Der Termin fand am 2. Mai statt.", tensePast},
		{"Der nächste Termin ist am 2. Mai.", tenseFuture},
	}
	for _, tt := range tests {
		if got := tenseOf(foldString(tt.text)); got != tt.want {
			t.Errorf("tenseOf(%q) = %d, want %d", tt.text, got, tt.want)
		}
	}
}

// TestYearlessDates reads dates written without a year in the four
// languages — day and month, numeric, weekdays, days counted from the
// note's own — and resolves each from the day the note was written, past or
// future as the wording shows, across year ends.
func TestYearlessDates(t *testing.T) {
	t.Parallel()
	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d.Add(15 * time.Hour)
	}
	// 2026-12-01 is a Tuesday; 2026-12-30 a Wednesday; 2027-01-02 a Saturday.
	tests := []struct {
		text, written, wantWritten, want string
	}{
		// Numeric without a year: European order, day first.
		{"RDV le 28/11 au CPAS, il a eu lieu.", "2026-12-01", "28/11", "2026-11-28"},
		{"Termin am 28.11. beim Jobcenter, der wurde verschoben.", "2026-12-01", "28.11", "2026-11-28"},
		{"Next visit on 3/1.", "2026-12-20", "3/1", "2027-01-03"},
		{"Afspraak op 15.12 was goed.", "2027-01-10", "15.12", "2026-12-15"},
		// Weekdays.
		{"She will see the budget adviser on Tuesday.", "2026-12-01", "tuesday", "2026-12-08"},
		{"She saw the budget adviser on Monday.", "2026-12-01", "monday", "2026-11-30"},
		{"The visit is next Friday.", "2026-12-01", "next friday", "2026-12-04"},
		{"The visit was last Friday.", "2026-12-01", "last friday", "2026-11-27"},
		{"Rendez-vous mardi prochain à la mairie.", "2026-12-01", "mardi prochain", "2026-12-08"},
		{"Elle est venue mardi dernier.", "2026-12-01", "mardi dernier", "2026-11-24"},
		{"Rendez-vous la semaine prochaine, jeudi.", "2026-12-30", "semaine prochaine, jeudi", "2027-01-07"},
		{"Volgende week dinsdag gaat ze naar het wijkteam.", "2026-12-30", "volgende week dinsdag", "2027-01-05"},
		{"Vorige week maandag was ze bij de huisbaas.", "2027-01-02", "vorige week maandag", "2026-12-21"},
		{"Ze komt aanstaande vrijdag.", "2026-12-30", "aanstaande vrijdag", "2027-01-01"},
		{"Er kommt am Dienstag zum Termin.", "2026-12-30", "dienstag", "2027-01-05"},
		{"Sie war letzten Montag beim Jobcenter.", "2027-01-02", "letzten montag", "2026-12-28"},
		{"Der Termin ist nächsten Donnerstag.", "2026-12-30", "nachsten donnerstag", "2026-12-31"},
		// Days counted from the note's day.
		{"She will call tomorrow.", "2026-12-31", "tomorrow", "2027-01-01"},
		{"The form is due the day after tomorrow.", "2026-12-30", "the day after tomorrow", "2027-01-01"},
		{"He came yesterday.", "2027-01-01", "yesterday", "2026-12-31"},
		{"The landlord visited three days ago.", "2027-01-02", "three days ago", "2026-12-30"},
		{"Review in two weeks.", "2026-12-20", "in two weeks", "2027-01-03"},
		{"Elle rappellera demain.", "2026-12-31", "demain", "2027-01-01"},
		{"Le dossier doit être rendu après-demain.", "2026-12-30", "apres-demain", "2027-01-01"},
		{"Elle est passée hier au bureau.", "2027-01-01", "hier", "2026-12-31"},
		{"Il est venu il y a trois jours.", "2027-01-02", "il y a trois jours", "2026-12-30"},
		{"Nouveau rendez-vous dans quinze jours.", "2026-12-20", "dans quinze jours", "2027-01-03"},
		{"Nouveau rendez-vous dans 3 jours.", "2026-12-30", "dans 3 jours", "2027-01-02"},
		{"Ze belt morgen terug.", "2026-12-31", "morgen", "2027-01-01"},
		{"Overmorgen komt de huisbaas.", "2026-12-30", "overmorgen", "2027-01-01"},
		{"Evaluatie over twee weken.", "2026-12-20", "over twee weken", "2027-01-03"},
		{"Ze was er twee dagen geleden.", "2027-01-01", "twee dagen geleden", "2026-12-30"},
		{"Er ruft übermorgen an.", "2026-12-30", "ubermorgen", "2027-01-01"},
		{"Gespräch in zwei Wochen.", "2026-12-20", "in zwei wochen", "2027-01-03"},
		{"Er war vor drei Tagen hier.", "2027-01-02", "vor drei tagen", "2026-12-30"},
	}
	for _, tt := range tests {
		f := foldString(tt.text)
		ys := findYearless(f, findDates(f, day(tt.written)))
		if len(ys) != 1 {
			t.Errorf("%q: %d dates without a year, want 1: %+v", tt.text, len(ys), ys)
			continue
		}
		got, ok := ys[0].resolve(day(tt.written), tenseOf(f))
		if w := f[ys[0].Start:ys[0].End]; w != tt.wantWritten || !ok || got.Format(time.DateOnly) != tt.want {
			t.Errorf("%q written %s: %q → %s, %v; want %q → %s", tt.text, tt.written, w, got.Format(time.DateOnly), ok, tt.wantWritten, tt.want)
		}
	}
	for _, text := range []string{
		"She goes to the club every Monday.",         // a habit
		"Elle a rendez-vous chaque mardi.",           // a habit
		"Er geht jeden Dienstag zum Training.",       // a habit
		"Ze werkt elke woensdag.",                    // a habit
		"Heute Morgen war sie beim Arzt.",            // heute counts, Morgen is the morning
		"Hij is hier om 9 uur.",                      // hier is here in Dutch
		"The meeting was on 11/28.",                  // not read month first
		"Le rendez-vous est mardi 3 décembre.",       // the weekday goes with the day and month
		"They talked about two weeks of holiday.",    // no count from the note's day
		"Ze praatten over de twee weken vakantie.",   // no count either
		"She has lived in three flats in ten years.", // not a unit of days
	} {
		f := foldString(text)
		ys := findYearless(f, findDates(f, day("2026-12-01")))
		var spans []string
		for _, y := range ys {
			spans = append(spans, f[y.Start:y.End])
		}
		want := map[string][]string{
			"Heute Morgen war sie beim Arzt.":      {"heute"},
			"Le rendez-vous est mardi 3 décembre.": {"3 decembre"},
		}[text]
		if strings.Join(spans, "|") != strings.Join(want, "|") {
			t.Errorf("%q: read %q, want %q", text, spans, want)
		}
	}
}

// TestDrafterCompletesDates drafts, with the offline drafter and with a
// model, notes written on 1 December that give dates without a year.
func TestDrafterCompletesDates(t *testing.T) {
	t.Parallel()
	written := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	today := func() time.Time { return written.Add(2 * time.Hour) }

	t.Run("OfflineDueDatesFollowTheNote", func(t *testing.T) {
		t.Parallel()
		notes := []Note{{ID: "n1", WrittenAt: written, Body: "On a eu un rendez-vous au CPAS le 28 novembre, il doit encore signer le contrat. " +
			"Le prochain rendez-vous aura lieu le 3 janvier au CPAS."}}
		d := &Drafter{Model: Extractive{}, Now: today}
		res, err := d.Draft(context.Background(), Request{Kind: KindSuggestions, Language: "fr", Notes: notes})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]CompletedDate{}
		for _, it := range res.Content.Items {
			got[it.Due] = it.CompletedDates
		}
		if cd := got["2026-11-28"]; len(cd) != 1 || cd[0] != (CompletedDate{Written: "28 novembre", Date: "2026-11-28"}) {
			t.Errorf("28 novembre: items %+v", res.Content.Items)
		}
		if cd := got["2027-01-03"]; len(cd) != 1 || cd[0].Written != "3 janvier" {
			t.Errorf("3 janvier: items %+v", res.Content.Items)
		}
		if _, wrong := got["2027-11-28"]; wrong {
			t.Errorf("le 28 novembre became next year: %+v", res.Content.Items)
		}
	})

	t.Run("AModelsCompletedDateIsMarked", func(t *testing.T) {
		t.Parallel()
		note := "On a eu une réunion le 28 novembre avec le CPAS pour le loyer."
		answer := `{"language":"fr","statements":[` +
			`{"id":"s1","text":"Une réunion a eu lieu le 28 novembre 2027 avec le CPAS.","category":"","citations":[{"note_id":"n1","quote":"On a eu une réunion le 28 novembre avec le CPAS"}]},` +
			`{"id":"s2","text":"Le loyer a été discuté avec le CPAS le 28 novembre.","category":"","citations":[{"note_id":"n1","quote":"On a eu une réunion le 28 novembre avec le CPAS pour le loyer"}]}],` +
			`"items":[{"id":"i1","type":"action","text":"Suivre la réunion du 28 novembre avec le CPAS.","due":"2027-11-28","service_id":null,"citations":[{"note_id":"n1","quote":"On a eu une réunion le 28 novembre avec le CPAS"}]}]}`
		var prompts []*Prompt
		d := &Drafter{Model: &funcModel{onPrem: true, GenerateFunc: answers(&prompts, answer)}, Now: today}
		res, err := d.Draft(context.Background(), Request{Kind: KindSuggestions, Notes: []Note{{ID: "n1", WrittenAt: written, Body: note}}})
		if err != nil {
			t.Fatal(err)
		}
		s1, s2, it := res.Content.Statements[0], res.Content.Statements[1], res.Content.Items[0]
		want := CompletedDate{Written: "28 novembre", Date: "2026-11-28"}
		if len(s1.CompletedDates) != 1 || s1.CompletedDates[0] != want {
			t.Errorf("statement with a completed year: %+v", s1.CompletedDates)
		}
		if len(s2.CompletedDates) != 0 {
			t.Errorf("statement without a year was marked: %+v", s2.CompletedDates)
		}
		if it.Due != "2026-11-28" || len(it.CompletedDates) != 1 || it.CompletedDates[0] != want {
			t.Errorf("item due %s, completed %+v", it.Due, it.CompletedDates)
		}
	})

	t.Run("WeekdaysAndCountedDaysAreMarked", func(t *testing.T) {
		t.Parallel()
		// Written on Tuesday 1 December 2026.
		for _, tt := range []struct{ lang, body, written, due string }{
			{"en", "Next appointment at the housing office next Tuesday.", "next tuesday", "2026-12-08"},
			{"fr", "Le prochain rendez-vous au CPAS aura lieu dans trois jours.", "dans trois jours", "2026-12-04"},
			{"nl", "Volgende week donderdag heeft ze een afspraak bij het wijkteam.", "Volgende week donderdag", "2026-12-10"},
			{"de", "Sie muss übermorgen den Antrag beim Jobcenter abgeben.", "übermorgen", "2026-12-03"},
		} {
			d := &Drafter{Model: Extractive{}, Now: today}
			res, err := d.Draft(context.Background(), Request{Kind: KindSuggestions, Language: tt.lang, Notes: []Note{{ID: "n1", WrittenAt: written, Body: tt.body}}})
			if err != nil {
				t.Fatal(err)
			}
			ok := false
			for _, it := range res.Content.Items {
				if it.Due == tt.due && len(it.CompletedDates) == 1 && strings.EqualFold(it.CompletedDates[0].Written, tt.written) && it.CompletedDates[0].Date == tt.due {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s: items %+v, want one due %s marked %q", tt.lang, res.Content.Items, tt.due, tt.written)
			}
		}
	})

	t.Run("CountedFromTheNoteNotFromTheDraft", func(t *testing.T) {
		t.Parallel()
		// Written on Tuesday 1 December, drafted on Friday 4 December.
		later := func() time.Time { return written.AddDate(0, 0, 3) }
		d := &Drafter{Model: Extractive{}, Now: later}
		res, err := d.Draft(context.Background(), Request{Kind: KindSuggestions, Language: "en", Notes: []Note{{ID: "n1", WrittenAt: written, Body: "She must bring the rent form to the office tomorrow."}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Content.Items) != 1 || res.Content.Items[0].Due != "2026-12-02" || len(res.Content.Items[0].CompletedDates) != 1 {
			t.Fatalf("items %+v, want one due 2026-12-02, marked", res.Content.Items)
		}
	})

	t.Run("FullDatesAreNotMarked", func(t *testing.T) {
		t.Parallel()
		notes := []Note{{ID: "n1", WrittenAt: written, Body: "Rendez-vous au CPAS le 28 novembre 2027, il doit apporter ses fiches de paie."}}
		d := &Drafter{Model: Extractive{}, Now: today}
		res, err := d.Draft(context.Background(), Request{Kind: KindSuggestions, Language: "fr", Notes: notes})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range res.Content.Items {
			if it.Due != "2027-11-28" || len(it.CompletedDates) != 0 {
				t.Errorf("item %+v", it)
			}
		}
		if len(res.Content.Items) == 0 {
			t.Fatal("no items")
		}
	})
}

// longNote is about 23 KB of note text with far more actions in it than a
// draft may hold.
func longNote() string {
	var b strings.Builder
	for i := 0; b.Len() < 23_000; i++ {
		fmt.Fprintf(&b, "Visit %d: the client must bring the form number %d to the office and should call the school. ", i, i)
		if i%10 == 9 {
			b.WriteString("\n\n")
		}
	}
	return b.String()
}

func TestDrafterDraftsLongNotes(t *testing.T) {
	t.Parallel()
	now := func() time.Time { return testNow }

	t.Run("A23KBNoteDraftsAsSuggestions", func(t *testing.T) {
		t.Parallel()
		body := longNote()
		var calls []*Prompt
		m := &funcModel{onPrem: true, GenerateFunc: func(ctx context.Context, p *Prompt) (*Completion, error) {
			calls = append(calls, p)
			return Extractive{}.Generate(ctx, p)
		}}
		d := &Drafter{Model: m, Now: now}
		res, err := d.Draft(context.Background(), Request{Kind: KindSuggestions, Notes: []Note{{ID: "n1", Body: body}}})
		if err != nil {
			t.Fatalf("a %d-byte note failed: %v", len(body), err)
		}
		if len(calls) != 2 || res.Params["chunks"] != "2" {
			t.Fatalf("%d model calls, params %v; want the note in two parts", len(calls), res.Params)
		}
		for _, p := range calls {
			if n := len(p.Notes[0].Body); n > DefaultChunkSize {
				t.Fatalf("a part of %d bytes was sent", n)
			}
		}
		c := res.Content
		if len(c.Items) != MaxEntries || c.Omitted == nil || c.Omitted.Items == 0 {
			t.Fatalf("%d items, omitted %+v", len(c.Items), c.Omitted)
		}
		if want := fmt.Sprintf("%d more suggestions were left out", c.Omitted.Items); !strings.HasPrefix(c.Omitted.Note, want) {
			t.Fatalf("note = %q, want it to start %q", c.Omitted.Note, want)
		}
		// Every kept item quotes the note, in the note's order.
		last := -1
		for _, it := range c.Items {
			at := strings.Index(body, it.Citations[0].Quote)
			if it.Ungrounded || at < 0 || at < last {
				t.Fatalf("item %+v out of order or not grounded", it)
			}
			last = at
		}
	})

	t.Run("TooManyItemsInOneAnswerAreLimitedNotFailed", func(t *testing.T) {
		t.Parallel()
		note := "The client must call the housing office about the rent arrears. Her son is at risk of violence at home."
		var items []string
		for i := range 130 {
			typ, quote := "action", "The client must call the housing office about the rent arrears"
			if i == 120 {
				typ, quote = "risk", "Her son is at risk of violence at home"
			}
			items = append(items, fmt.Sprintf(`{"id":"i%d","type":"%s","text":"Call the housing office about the rent arrears (%d).","due":null,"service_id":null,"citations":[{"note_id":"n1","quote":"%s"}]}`, i, typ, i, quote))
		}
		answer := `{"language":"en","statements":[],"items":[` + strings.Join(items, ",") + `]}`
		var prompts []*Prompt
		d := &Drafter{Model: &funcModel{onPrem: true, GenerateFunc: answers(&prompts, answer)}, Now: now}
		res, err := d.Draft(context.Background(), Request{Kind: KindSuggestions, Notes: []Note{{ID: "n1", Body: note}}})
		if err != nil {
			t.Fatal(err)
		}
		c := res.Content
		if len(c.Items) != MaxEntries || c.Omitted == nil || c.Omitted.Items != 30 || !strings.HasPrefix(c.Omitted.Note, "30 more suggestions were left out") {
			t.Fatalf("%d items, omitted %+v", len(c.Items), c.Omitted)
		}
		risk := 0
		for _, it := range c.Items {
			if it.Type == ItemRisk {
				risk++
			}
		}
		if risk != 1 || c.Items[len(c.Items)-1].Type != ItemRisk {
			t.Fatalf("the risk item was not kept in its place: %d risk items", risk)
		}
	})
}

// TestLimitKeepsWhatTheServiceReadsAsHighStakes: the limit is applied after
// the service's own reading, so a statement the model did not label is not
// left out for being late in the notes.
func TestLimitKeepsWhatTheServiceReadsAsHighStakes(t *testing.T) {
	t.Parallel()
	note := "The client must call the housing office about the rent arrears. The teacher saw bruises on his arm and he is afraid to go home."
	var sts []string
	for i := range 120 {
		text, quote := fmt.Sprintf("The rent arrears were discussed (%d).", i), "The client must call the housing office about the rent arrears"
		if i == 110 {
			text, quote = "The teacher saw bruises on his arm and he is afraid to go home.", "The teacher saw bruises on his arm and he is afraid to go home"
		}
		sts = append(sts, fmt.Sprintf(`{"id":"s%d","text":"%s","category":"","citations":[{"note_id":"n1","quote":"%s"}]}`, i, text, quote))
	}
	var prompts []*Prompt
	d := &Drafter{Model: &funcModel{onPrem: true, GenerateFunc: answers(&prompts, `{"language":"en","statements":[`+strings.Join(sts, ",")+`]}`)}, Now: func() time.Time { return testNow }}
	res, err := d.Draft(context.Background(), Request{Kind: KindSummary, Notes: []Note{{ID: "n1", Body: note}}})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Content
	if len(c.Statements) != MaxEntries || c.Omitted == nil || c.Omitted.Statements != 20 {
		t.Fatalf("%d statements, omitted %+v", len(c.Statements), c.Omitted)
	}
	kept := false
	for _, s := range c.Statements {
		if strings.Contains(s.Text, "bruises") {
			kept = s.Category != ""
		}
	}
	if !kept {
		t.Fatal("the unlabelled statement about bruises was left out or not flagged")
	}
}

func TestSplitText(t *testing.T) {
	t.Parallel()
	body := longNote() + strings.Repeat("x", 300) + " end."
	for _, size := range []int{100, 1000, 16_000} {
		parts := splitText(body, size)
		if strings.Join(parts, "") != body {
			t.Fatalf("size %d: the parts do not give the note back", size)
		}
		for _, p := range parts {
			if len(p) > size && strings.Contains(strings.TrimSpace(p), " ") {
				t.Fatalf("size %d: a part of %d bytes", size, len(p))
			}
		}
	}
}
