package httpx

import (
	"net/url"
	"strings"
	"unicode"
)

// LocalPath returns target when a browser told to go there stays on this
// origin, and "/" otherwise. Every redirect whose target comes from a
// request (the sign-in's next, the language switch's back) goes through it:
// no redirect of the service may lead to another site.
//
// A local target is a path that starts with exactly one "/", has no "//"
// and no backslash (browsers read "/\" as "//"), and no control character or
// whitespace (browsers drop tabs and newlines, so "/\t/evil.example" would
// become "//evil.example"); and so is every percent-decoding of it.
func LocalPath(target string) string {
	if IsLocalPath(target) {
		return target
	}
	return "/"
}

// IsLocalPath reports whether target is a redirect target LocalPath keeps.
func IsLocalPath(target string) bool {
	if len(target) > 2048 {
		return false
	}
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return false
	}
	// The raw text and each decoding of it, until decoding changes nothing:
	// what some later reader unescapes must be as harmless as what we see.
	s := target
	for range 4 {
		if !safePath(s) {
			return false
		}
		d, err := url.PathUnescape(s)
		if err != nil {
			return false
		}
		if d == s {
			return true
		}
		s = d
	}
	return false // still changing after four decodings: refused
}

// safePath checks one form of a target: a single leading slash, no "//"
// in its path, no backslash, control character or whitespace anywhere.
func safePath(s string) bool {
	if !strings.HasPrefix(s, "/") {
		return false
	}
	for _, r := range s {
		if r == '\\' || unicode.IsControl(r) || unicode.IsSpace(r) || r == unicode.ReplacementChar {
			return false
		}
	}
	path := s
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	return !strings.Contains(path, "//")
}
