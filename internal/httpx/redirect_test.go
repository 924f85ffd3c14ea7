package httpx

import (
	"net/url"
	"strings"
	"testing"
)

func TestLocalPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		target string
		local  bool
	}{
		{"/", true},
		{"/cases", true},
		{"/cases/cas_1?done=note.added#notes", true},
		{"/signin?next=%2Fcases", true},
		{"", false},
		{"cases", false},
		{"//other.example/x", false},
		{"/\\other.example/x", false},
		{"/\t/other.example/x", false},
		{"/%09/other.example/x", false},
		{"/%2509/other.example/x", false},
		{"/%2F/other.example/x", false},
		{"/%5Cother.example", false},
		{"/\r\nLocation: https://other.example", false},
		{"/a//b", false},
		{"/ /other.example", false},
		{"/\u00a0/other.example", false},
		{"https://other.example/x", false},
		{"javascript:alert(1)", false},
		{"/%zz", false},
		{"\x00/x", false},
	} {
		if got := IsLocalPath(tc.target); got != tc.local {
			t.Errorf("IsLocalPath(%q) = %v, want %v", tc.target, got, tc.local)
		}
		want := "/"
		if tc.local {
			want = tc.target
		}
		if got := LocalPath(tc.target); got != want {
			t.Errorf("LocalPath(%q) = %q, want %q", tc.target, got, want)
		}
	}
}

// FuzzLocalPath checks that whatever LocalPath returns, a browser resolving
// it against this origin stays on this origin: it starts with one slash, and
// no decoding of it holds a second slash, a backslash, a control character
// or whitespace where a browser would read another host.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/", "/cases", "//x", "/\\x", "/%09/x", "/\t/x", "/%2F%2Fx", "https://x", "/a?b=//c", "/%252F/x", "/%E2%80%A8/x"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://countersign.example/cases/1")
	f.Fuzz(func(t *testing.T, target string) {
		got := LocalPath(target)
		if got != "/" && got != target {
			t.Fatalf("LocalPath(%q) = %q: neither the target nor /", target, got)
		}
		// What a browser does first: drop tabs and newlines, read "\" as "/".
		browser := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(got)
		for s := browser; ; {
			if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") {
				t.Fatalf("LocalPath(%q) = %q, which a browser may read as another origin", target, got)
			}
			d, err := url.PathUnescape(s)
			if err != nil || d == s {
				break
			}
			s = d
		}
		u, err := base.Parse(browser)
		if err != nil {
			t.Fatalf("LocalPath(%q) = %q, which does not parse: %v", target, got, err)
		}
		if u.Host != base.Host || u.Scheme != base.Scheme {
			t.Fatalf("LocalPath(%q) = %q leads to %s", target, got, u)
		}
	})
}
