package migrations_test

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"testing"

	"github.com/countersign/countersign/migrations"
)

func TestMigrations(t *testing.T) {
	t.Parallel()
	list := func(dir string) []string {
		names, err := fs.Glob(migrations.FS, dir+"/*.sql")
		if err != nil {
			t.Fatal(err)
		}
		for i := range names {
			names[i] = path.Base(names[i])
		}
		return names
	}
	pg, lite := list("postgres"), list("sqlite")

	t.Run("BothDialectsListTheSameFiles", func(t *testing.T) {
		t.Parallel()
		if !slices.Equal(pg, lite) {
			t.Fatalf("postgres %v\nsqlite   %v", pg, lite)
		}
	})
	t.Run("FilesAreNumberedWithoutGapsOrRepeats", func(t *testing.T) {
		t.Parallel()
		name := regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)
		for i, n := range pg {
			m := name.FindStringSubmatch(n)
			if m == nil {
				t.Fatalf("%s does not look like 0001_slug.sql", n)
			}
			if want := fmt.Sprintf("%04d", i+1); m[1] != want {
				t.Fatalf("%s: want number %s", n, want)
			}
		}
	})
}
