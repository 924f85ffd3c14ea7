package web

import (
	"regexp"
	"strings"
	"testing"
)

// TestClientStylesKeepLineBreaks: a signed entry, a letter and a client's
// response are written in lines ("Next step: …" one per line); the client
// pages (which load client.css, not app.css) keep those lines instead of
// running them into one paragraph.
func TestClientStylesKeepLineBreaks(t *testing.T) {
	t.Parallel()
	css, err := staticFS.ReadFile("static/client.css")
	if err != nil {
		t.Fatal(err)
	}
	plain := regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(string(css), "")
	rules := regexp.MustCompile(`(?s)([^{}]+)\{([^}]*)\}`).FindAllStringSubmatch(plain, -1)
	for _, sel := range []string{".entry-text", "blockquote"} {
		kept := false
		for _, r := range rules {
			for _, s := range strings.Split(r[1], ",") {
				if strings.TrimSpace(s) == sel && strings.Contains(r[2], "white-space: pre-wrap") {
					kept = true
				}
			}
		}
		if !kept {
			t.Errorf("client.css has no rule keeping the line breaks of %s", sel)
		}
	}
}
