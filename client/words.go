package client

import (
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"
)

// The sentences of the client's file that both doors give (the JSON API's
// "words" fields and the client's pages): provenance, withheld notices,
// who looked and what they read, dates. They are message catalogues, one
// per language of Languages (words/<lang>.json), read when the package
// loads; a missing key falls back to English. The pages' own words are the
// web interface's catalogues.

//go:embed words/*.json
var wordsFS embed.FS

var printers = loadWords()

func loadWords() map[string]*message.Printer {
	b := catalog.NewBuilder(catalog.Fallback(language.English))
	tags := map[string]language.Tag{}
	for _, lang := range Languages {
		tag := language.MustParse(lang)
		tags[lang] = tag
		raw, err := wordsFS.ReadFile(path.Join("words", lang+".json"))
		if err != nil {
			panic(err)
		}
		var entries map[string]string
		if err := json.Unmarshal(raw, &entries); err != nil {
			panic(fmt.Sprintf("client/words/%s.json: %v", lang, err))
		}
		for k, v := range entries {
			if err := b.SetString(tag, k, v); err != nil {
				panic(fmt.Sprintf("client/words/%s.json: %s: %v", lang, k, err))
			}
		}
	}
	out := map[string]*message.Printer{}
	for lang, tag := range tags {
		out[lang] = message.NewPrinter(tag, message.Catalog(b))
	}
	return out
}

// Words returns the sentence key of the client's file in lang (English
// when lang is not one of Languages), with args filled in.
func Words(lang, key string, args ...any) string {
	p, ok := printers[lang]
	if !ok {
		p = printers[DefaultLanguage]
	}
	return p.Sprintf(key, args...)
}

// zone is the service's time zone (--time-zone), in which a client reads
// the days and times of their file; UTC until serve sets it.
var zone atomic.Pointer[time.Location]

// SetTimeZone sets the time zone of the days and times a client reads.
func SetTimeZone(loc *time.Location) { zone.Store(loc) }

// Local returns t in the service's time zone (SetTimeZone), UTC by default.
func Local(t time.Time) time.Time {
	if loc := zone.Load(); loc != nil {
		return t.In(loc)
	}
	return t.UTC()
}

// Clock writes t's time of day in the service's time zone, with the zone's
// abbreviation ("14:05 CET"), so a time is never read in the wrong zone.
func Clock(t time.Time) string { return Local(t).Format("15:04 MST") }

// Date writes t's day in lang, as a letter does: "3 December 2026", the
// day in the service's time zone.
func Date(lang string, t time.Time) string {
	t = Local(t)
	// The year as text: a printer would group its digits ("2,026").
	return Words(lang, "date", t.Day(), Words(lang, fmt.Sprintf("month.%d", int(t.Month()))), strconv.Itoa(t.Year()))
}
