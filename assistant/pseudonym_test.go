package assistant

import (
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)

var testParties = []Party{
	{ID: "pty_1", Role: "client", FullName: "Jean-Pierre Müller", DateOfBirth: "12/03/1985",
		Address: "Rue de la Loi 16, 1000 Bruxelles", Phone: "+32 470 12 34 56",
		Email: "jp.muller@example.org", NationalID: "85.03.12-123.45"},
	{ID: "pty_2", Role: "other", FullName: "Anneke van der Berg", DateOfBirth: "1990-07-04",
		Address: "Hauptstraße 5, 10115 Berlin", Phone: "06-12345678", NationalID: "756.1234.5678.97"},
	{ID: "pty_3", Role: "other", FullName: "Zoë Lefèvre"},
}

func TestPseudonymiserMasksRealisticVariants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text, value, category string
	}{
		{"FullName", "Visit with Jean-Pierre Müller.", "Jean-Pierre Müller", MaskPerson},
		{"FullNameUpperCaseNoAccents", "VISIT WITH JEAN-PIERRE MULLER.", "JEAN-PIERRE MULLER", MaskPerson},
		{"FullNameSpaceForHyphen", "Visit with jean pierre muller.", "jean pierre muller", MaskPerson},
		{"TypedUmlaut", "Mr Mueller called.", "Mueller", MaskPerson},
		{"SurnameAlone", "Mr Müller called.", "Müller", MaskPerson},
		{"SurnameLowerCase", "spoke to muller", "muller", MaskPerson},
		{"GivenNameAlone", "Jean-Pierre called.", "Jean-Pierre", MaskPerson},
		{"GivenNamePart", "Pierre called.", "Pierre", MaskPerson},
		{"Initials", "J.-P. Müller called.", "J.-P. Müller", MaskPerson},
		{"InitialsNoDots", "JP Muller called.", "JP Muller", MaskPerson},
		{"SurnameFirst", "MÜLLER, Jean-Pierre called.", "MÜLLER, Jean-Pierre", MaskPerson},
		{"NameWithParticle", "Anneke van der Berg came.", "Anneke van der Berg", MaskPerson},
		{"ParticleSurname", "Mrs Van Der Berg came.", "Van Der Berg", MaskPerson},
		{"AccentedFirstName", "Zoe Lefevre came.", "Zoe Lefevre", MaskPerson},
		{"AccentedSurnameAlone", "Mme LEFÈVRE came.", "LEFÈVRE", MaskPerson},
		{"DOBSlashes", "born 12/03/1985", "12/03/1985", MaskDOB},
		{"DOBDots", "born 12.03.1985", "12.03.1985", MaskDOB},
		{"DOBISO", "dob 1985-03-12", "1985-03-12", MaskDOB},
		{"DOBWords", "born on 12 March 1985", "12 March 1985", MaskDOB},
		{"DOBFrench", "né le 12 mars 1985", "12 mars 1985", MaskDOB},
		{"DOBGerman", "geboren am 12. März 1985", "12. März 1985", MaskDOB},
		{"DOBShortYear", "born 12/3/85", "12/3/85", MaskDOB},
		{"DOBCompact", "dob 12031985", "12031985", MaskDOB},
		{"ChildDOBAfterBirthWord", "her son, born 03.04.2019, lives with her", "03.04.2019", MaskDOB},
		{"PhoneInternational", "call +32 470 12 34 56", "+32 470 12 34 56", MaskPhone},
		{"PhoneNational", "call 0470 12 34 56", "0470 12 34 56", MaskPhone},
		{"PhoneDots", "call 0470.12.34.56", "0470.12.34.56", MaskPhone},
		{"PhoneSlash", "call 0470/123456", "0470/123456", MaskPhone},
		{"PhoneDashes", "call 0470-12-34-56", "0470-12-34-56", MaskPhone},
		{"PhoneDoubleZero", "call 0032 470 123 456", "0032 470 123 456", MaskPhone},
		{"PhoneBrackets", "call (0470) 12 34 56", "(0470) 12 34 56", MaskPhone},
		{"PhoneTrunkZero", "call +32 (0)470 12 34 56", "+32 (0)470 12 34 56", MaskPhone},
		{"OtherPartyPhone", "neighbour: 06 12 34 56 78", "06 12 34 56 78", MaskPhone},
		{"UnknownPhone", "the landlord: +33 6 12 34 56 78", "+33 6 12 34 56 78", MaskPhone},
		{"Email", "wrote to JP.Muller@Example.org", "JP.Muller@Example.org", MaskEmail},
		{"UnknownEmail", "cc a.b-c@mail.example.de today", "a.b-c@mail.example.de", MaskEmail},
		{"StreetAndNumber", "lives at rue de la loi 16", "rue de la loi 16", MaskAddress},
		{"NumberAndStreet", "lives at 16, Rue de la Loi", "16, Rue de la Loi", MaskAddress},
		{"StreetAlone", "a flat in the Rue de la Loi", "Rue de la Loi", MaskAddress},
		{"PostcodeTown", "moved to 1000 Bruxelles", "1000 Bruxelles", MaskAddress},
		{"GermanStreetAbbreviated", "wohnt Hauptstr. 5", "Hauptstr. 5", MaskAddress},
		{"GermanStreetSpelledOut", "wohnt in der Hauptstrasse 5", "Hauptstrasse 5", MaskAddress},
		{"NationalIDFormatted", "NN 85.03.12-123.45", "85.03.12-123.45", MaskID},
		{"NationalIDBare", "NN 85031212345", "85031212345", MaskID},
		{"NationalIDSpaces", "NN 850312 123 45", "850312 123 45", MaskID},
		{"CHAHV", "AHV 756.1234.5678.97", "756.1234.5678.97", MaskID},
		{"CHAHVBare", "AVS 7561234567897", "7561234567897", MaskID},
		{"UnknownBENationalNumber", "RRN 90.07.04-321.17", "90.07.04-321.17", MaskID},
		{"FRNIR", "NIR 1 85 03 75 123 456 78", "1 85 03 75 123 456 78", MaskID},
		{"FRNIRCorsica", "NIR 2 90 07 2A 123 456 78", "2 90 07 2A 123 456 78", MaskID},
		{"NLBSN", "BSN 111222333", "111222333", MaskID},
		{"DESteuerID", "Steuer-ID 12 345 678 901", "12 345 678 901", MaskID},
		{"IBANGrouped", "IBAN BE68 5390 0754 7034", "BE68 5390 0754 7034", MaskIBAN},
		{"IBANCompact", "iban nl91abna0417164300", "nl91abna0417164300", MaskIBAN},
		{"IBANFrench", "RIB FR14 2004 1010 0505 0001 3M02 606", "FR14 2004 1010 0505 0001 3M02 606", MaskIBAN},
		{"IBANGerman", "DE89 3704 0044 0532 0130 00 ist sein Konto", "DE89 3704 0044 0532 0130 00", MaskIBAN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := NewPseudonymiser(testParties, testNow)
			masked := p.Mask(tt.text)
			if strings.Contains(foldString(masked), foldString(tt.value)) {
				t.Fatalf("Mask(%q) = %q, still holds %q", tt.text, masked, tt.value)
			}
			if p.Counts()[tt.category] == 0 {
				t.Fatalf("Mask(%q) = %q, counts %v, want a %s", tt.text, masked, p.Counts(), tt.category)
			}
			if !strings.Contains(masked, "["+placeholderTags[tt.category]+"_") {
				t.Fatalf("Mask(%q) = %q, want a %s placeholder", tt.text, masked, tt.category)
			}
		})
	}
}

func TestPseudonymiserLeavesOrdinaryText(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, text string }{
		{"AppointmentDate", "Appointment on 20/05/2024 at 10:00."},
		{"DeadlineInWords", "Send the form before 15 May 2024."},
		{"Amount", "Rent arrears of 1.250 EUR since March."},
		{"CaseNumber", "See file 2024/123."},
		{"Town", "She moved to Bruxelles last year."},
		{"ShortNumber", "Room 12, floor 3, 4 children."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := NewPseudonymiser(testParties, testNow)
			if got := p.Mask(tt.text); got != tt.text {
				t.Fatalf("Mask(%q) = %q", tt.text, got)
			}
		})
	}
}

func TestPseudonymiserPlaceholders(t *testing.T) {
	t.Parallel()

	t.Run("SameValueSamePlaceholder", func(t *testing.T) {
		t.Parallel()
		p := NewPseudonymiser(testParties, testNow)
		got := p.Mask("Müller, MULLER and J.-P. Mueller; call 0470 12 34 56 or +32470123456.")
		// One number per value, one placeholder per way it is written.
		want := "[PERSON_1], [PERSON_1_2] and [PERSON_1_3]; call [PHONE_1] or [PHONE_1_2]."
		if got != want {
			t.Fatalf("got  %q\nwant %q", got, want)
		}
		if c := p.Counts(); c[MaskPerson] != 3 || c[MaskPhone] != 2 {
			t.Fatalf("counts = %v", c)
		}
	})

	t.Run("StableAcrossNotes", func(t *testing.T) {
		t.Parallel()
		p := NewPseudonymiser(testParties, testNow)
		a, b := p.Mask("Anneke came."), p.Mask("Later, Anneke left.")
		if !strings.Contains(a, "[PERSON_2]") || !strings.Contains(b, "[PERSON_2]") {
			t.Fatalf("a = %q, b = %q", a, b)
		}
	})

	t.Run("RestorePutsBackWhatWasMasked", func(t *testing.T) {
		t.Parallel()
		p := NewPseudonymiser(testParties, testNow)
		p.Mask("MULLER was born 12.03.1985; the landlord's email is x@y.be")
		// [PERSON_2] (Anneke) was in no note: it stands for the recorded name.
		got := p.Restore("[PERSON_1] ([DOB_1]) wrote to [EMAIL_2]; [person_1] agreed; [PERSON_2] came; [PERSON_9] is unknown.")
		want := "MULLER (12.03.1985) wrote to x@y.be; MULLER agreed; Anneke van der Berg came; [PERSON_9] is unknown."
		if got != want {
			t.Fatalf("got  %q\nwant %q", got, want)
		}
	})

	t.Run("OriginalRangeGivesTheNotesWording", func(t *testing.T) {
		t.Parallel()
		p := NewPseudonymiser(testParties, testNow)
		text := "Met J.-P. MULLER at rue de la loi 16 today."
		m := p.maskNote(text)
		if m.Masked != "Met [PERSON_1] at [ADDRESS_1] today." {
			t.Fatalf("masked = %q", m.Masked)
		}
		if got := m.originalRange(0, len(m.Masked)); got != text {
			t.Fatalf("whole range = %q", got)
		}
		i := strings.Index(m.Masked, "[PERSON_1] at")
		if got := m.originalRange(i, i+len("[PERSON_1] at")); got != "J.-P. MULLER at" {
			t.Fatalf("range = %q", got)
		}
		// A range cutting into a placeholder takes in the whole value.
		if got := m.originalRange(i+3, i+6); got != "J.-P. MULLER" {
			t.Fatalf("partial range = %q", got)
		}
	})
}
