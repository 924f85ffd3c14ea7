package web

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"testing"
)

// TestDoorsDoNotImportEachOther holds the JSON API and the web interface
// apart: each calls the domain, and what both need is in internal/httpx.
func TestDoorsDoNotImportEachOther(t *testing.T) {
	t.Parallel()
	const module = "github.com/countersign/countersign/"
	for dir, forbidden := range map[string]string{".": module + "api", "../api": module + "web"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s (%v)", dir, err)
		}
		for _, name := range files {
			f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				if path, _ := strconv.Unquote(imp.Path.Value); path == forbidden {
					t.Errorf("%s imports %s", name, forbidden)
				}
			}
		}
	}
}
