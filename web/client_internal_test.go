package web

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/countersign/countersign/client"
)

func TestClientCatalogue(t *testing.T) {
	t.Parallel()

	t.Run("HasTheSameKeysInEveryLanguage", func(t *testing.T) {
		t.Parallel()
		if len(clientKeys) != len(client.Languages) {
			t.Fatalf("%d client catalogues for %d languages", len(clientKeys), len(client.Languages))
		}
		for _, lang := range client.Languages {
			for key := range clientKeys[client.DefaultLanguage] {
				if !clientKeys[lang][key] {
					t.Errorf("%s lacks %q", lang, key)
				}
			}
			for key := range clientKeys[lang] {
				if !clientKeys[client.DefaultLanguage][key] {
					t.Errorf("%s has %q, which en lacks", lang, key)
				}
			}
		}
	})

	t.Run("GivesEachTextTheSameShapeInEveryLanguage", func(t *testing.T) {
		t.Parallel()
		verbs := regexp.MustCompile(`%(\[\d\])?[ds]`)
		want := map[string]int{}
		for _, lang := range client.Languages {
			raw, err := clientCatalogFS.ReadFile("catalog/client/" + lang + ".json")
			if err != nil {
				t.Fatal(err)
			}
			var entries map[string]json.RawMessage
			if err := json.Unmarshal(raw, &entries); err != nil {
				t.Fatal(err)
			}
			for key, v := range entries {
				n := len(verbs.FindAll(v, -1))
				if lang == client.DefaultLanguage {
					want[key] = n
				} else if n != want[key] {
					t.Errorf("%s %s takes %d arguments, en %d", lang, key, n, want[key])
				}
			}
		}
	})

	t.Run("HasEveryKeyTheClientPagesUse", func(t *testing.T) {
		t.Parallel()
		lit := regexp.MustCompile(`(?:\.Tr |p\.Tr\(|clientMsg\([a-zA-Z().]+, |newClientPage\(r, )"([a-z][a-zA-Z0-9_.]*)"`)
		used := map[string]bool{}
		_ = fs.WalkDir(templateFS, "templates", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, _ := fs.ReadFile(templateFS, path)
			for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
				used[m[1]] = true
			}
			return nil
		})
		for _, name := range []string{"client.go", "client_auth.go", "client_letter.go"} {
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
				used[m[1]] = true
			}
		}
		if len(used) < 40 {
			t.Fatalf("found only %d keys; the pattern is broken", len(used))
		}
		for key := range used {
			if !clientKeys[client.DefaultLanguage][key] {
				t.Errorf("the client catalogue lacks %q", key)
			}
		}
	})

	t.Run("SaysDatesInEachLanguage", func(t *testing.T) {
		t.Parallel()
		for lang, want := range map[string]string{"en": "3 December 2026", "fr": "3 décembre 2026", "nl": "3 december 2026", "de": "3. Dezember 2026"} {
			p := &clientPage{Lang: lang}
			if got := p.Date(time.Date(2026, 12, 3, 12, 0, 0, 0, time.Local)); got != want {
				t.Errorf("%s: %q, want %q", lang, got, want)
			}
		}
	})
}

func TestQRCodeDrawsEveryDarkModule(t *testing.T) {
	t.Parallel()
	const address = "https://mijn.example.be/client/signin"
	svg, err := qrSVG(address, `QR <of> "the" address`)
	if err != nil {
		t.Fatal(err)
	}
	q, err := qrcode.New(address, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	bm := q.Bitmap()
	dark := 0
	for y, row := range bm {
		for x, on := range row {
			if on {
				dark++
				if !strings.Contains(string(svg), fmt.Sprintf("M%d %dh1v1h-1z", x, y)) {
					t.Fatalf("module (%d, %d) is not drawn", x, y)
				}
			}
		}
	}
	if got := strings.Count(string(svg), "h1v1h-1z"); got != dark {
		t.Fatalf("%d modules drawn, %d dark", got, dark)
	}
	if !strings.Contains(string(svg), fmt.Sprintf(`viewBox="0 0 %d %d"`, len(bm), len(bm))) || !strings.Contains(string(svg), "QR &lt;of&gt; &#34;the&#34; address") {
		t.Fatalf("svg %.200s", svg)
	}
}
