package migrations_test

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/countersign/countersign/migrations"
)

var (
	comment    = regexp.MustCompile(`--[^\n]*`)
	spaces     = regexp.MustCompile(`\s+`)
	addNotNull = regexp.MustCompile(`ALTER TABLE (\w+) ADD COLUMN (?:IF NOT EXISTS )?(\w+) [^,]*\bNOT NULL\b`)
	dropCons   = regexp.MustCompile(`ALTER TABLE (\w+) DROP CONSTRAINT (?:IF EXISTS )?(\w+)`)
	addCons    = regexp.MustCompile(`ALTER TABLE (\w+) ADD CONSTRAINT (\w+)`)
	contracts  = []struct {
		re   *regexp.Regexp
		what string
	}{
		{regexp.MustCompile(`\bDROP TABLE\b`), "drops a table"},
		{regexp.MustCompile(`\bDROP COLUMN\b`), "drops a column"},
		{regexp.MustCompile(`\bRENAME\b`), "renames"},
		{regexp.MustCompile(`\bSET NOT NULL\b`), "makes a column NOT NULL"},
		{regexp.MustCompile(`\bALTER COLUMN \w+ (?:SET DATA )?TYPE\b`), "changes a column's type"},
		{regexp.MustCompile(`\bDROP DEFAULT\b`), "drops a default"},
	}
)

// contractions returns what in a PostgreSQL migration the previous
// release could trip over. A CHECK constraint dropped and added again under
// its name in the same file is the widening idiom (0002_review.sql) and
// passes; whether the new one is wider is for the reviewer to see.
func contractions(sql string) []string {
	var found []string
	dropped := map[string]bool{}
	for _, stmt := range strings.Split(comment.ReplaceAllString(sql, ""), ";") {
		s := strings.TrimSpace(spaces.ReplaceAllString(strings.ToUpper(stmt), " "))
		if s == "" {
			continue
		}
		for _, c := range contracts {
			if c.re.MatchString(s) {
				found = append(found, fmt.Sprintf("%s: %s", c.what, clip(s)))
			}
		}
		if m := addNotNull.FindStringSubmatch(s); m != nil && !strings.Contains(s, " DEFAULT ") {
			found = append(found, fmt.Sprintf("adds %s.%s NOT NULL without a default, which the previous release does not write: %s", m[1], m[2], clip(s)))
		}
		if m := dropCons.FindStringSubmatch(s); m != nil {
			dropped[m[1]+"."+m[2]] = true
		}
		if m := addCons.FindStringSubmatch(s); m != nil && !dropped[m[1]+"."+m[2]] {
			found = append(found, fmt.Sprintf("adds constraint %s to %s, which may refuse what the previous release writes: %s", m[2], m[1], clip(s)))
		}
	}
	return found
}

func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

// TestExpandOnly refuses a contraction among the PostgreSQL migrations
// added since the previous release. SQLite is one process on one machine:
// its upgrades stop the service, and its migrations may rebuild tables.
func TestExpandOnly(t *testing.T) {
	t.Parallel()
	t.Run("TheCheckFindsContractions", func(t *testing.T) {
		t.Parallel()
		for sql, want := range map[string]int{
			"ALTER TABLE drafts DROP COLUMN model;":                                                                    1,
			"ALTER TABLE notes RENAME COLUMN body TO text;":                                                            1,
			"ALTER TABLE notes ADD COLUMN lang TEXT NOT NULL;":                                                         1,
			"ALTER TABLE notes ADD COLUMN lang TEXT NOT NULL DEFAULT 'en';":                                            0,
			"ALTER TABLE notes ALTER COLUMN lang SET NOT NULL;":                                                        1,
			"ALTER TABLE notes ADD CONSTRAINT notes_lang CHECK (lang <> '');":                                          1,
			"ALTER TABLE d DROP CONSTRAINT d_s; -- widened\nALTER TABLE d ADD CONSTRAINT d_s CHECK (s IN ('a', 'b'));": 0,
			"CREATE TABLE t (id TEXT NOT NULL); -- DROP TABLE in a comment":                                            0,
		} {
			if got := contractions(sql); len(got) != want {
				t.Errorf("%q: %d contractions %q, want %d", sql, len(got), got, want)
			}
		}
	})
	names, err := fs.Glob(migrations.FS, "postgres/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if slices.Contains(migrations.PreviousRelease, path.Base(name)) {
			continue
		}
		buf, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range contractions(string(buf)) {
			t.Errorf("%s %s; wait for the release after next (migrations/migrations.go)", name, c)
		}
	}
	for _, prev := range migrations.PreviousRelease {
		if _, err := fs.Stat(migrations.FS, "postgres/"+prev); err != nil {
			t.Errorf("the previous release's %s is gone: migrations are append-only", prev)
		}
	}
}
