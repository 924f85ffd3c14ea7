// Package names holds the first-name and surname lists of the four
// languages (README.md), for readers that cannot import package assistant:
// the high-stakes detector places a capitalised word that is a known name
// as ordinary. The pseudonymiser (assistant/names.go) reads the same files.
package names

import (
	"bufio"
	"embed"
	"strings"
	"sync"

	"golang.org/x/text/unicode/norm"

	"github.com/countersign/countersign/internal/textfold"
)

//go:embed *.txt
var files embed.FS

var (
	once  sync.Once
	known map[string]bool
)

// Known reports whether a folded word (lower case, no accents: see
// internal/textfold) is a first name or surname of the lists and not one
// of the common words that common.txt sets apart ("will", "may", "zimmer").
func Known(folded string) bool {
	once.Do(load)
	return known[folded]
}

func fold(s string) string {
	var b strings.Builder
	for _, r := range norm.NFC.String(s) {
		b.WriteString(textfold.Rune(r))
	}
	return b.String()
}

func load() {
	known = map[string]bool{}
	common := map[string]bool{}
	read := func(name string, into map[string]bool) {
		b, err := files.ReadFile(name)
		if err != nil {
			panic("names: missing list " + name)
		}
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			into[fold(line)] = true
		}
	}
	for _, lang := range []string{"en", "fr", "nl", "de"} {
		read(lang+".first.txt", known)
		read(lang+".last.txt", known)
	}
	read("common.txt", common)
	for w := range common {
		delete(known, w)
	}
}
