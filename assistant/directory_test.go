package assistant_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/countersign/countersign/assistant"
)

func TestLoadDirectory(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, text, err string
		n               int
	}{
		{"ReadsYAML", "- id: budget-advice\n  name: Budget advice service\n  description: Debt and budget counselling\n- id: food-bank\n  name: Food bank\n  description: Emergency food parcels\n", "", 2},
		{"ReadsJSON", `[{"id":"housing","name":"Housing office","description":"Rent arrears and evictions"}]`, "", 1},
		{"RefusesDuplicateIDs", "- {id: a, name: A, description: x}\n- {id: a, name: B, description: y}\n", "used twice", 0},
		{"RefusesBadIDs", "- {id: 'Budget Advice', name: A, description: x}\n", "must be 1 to 64", 0},
		{"RefusesMissingDescription", "- {id: a, name: A}\n", "description", 0},
		{"RefusesUnknownFields", "- {id: a, name: A, description: x, phone: 123}\n", "not a list", 0},
		{"RefusesNotAList", "id: a\n", "not a list", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "directory.yaml")
			if err := os.WriteFile(path, []byte(tc.text), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := assistant.LoadDirectory(path)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), path) {
					t.Fatalf("error %v, want one naming the file and saying %q", err, tc.err)
				}
				return
			}
			if err != nil || len(got) != tc.n {
				t.Fatalf("%d services, %v", len(got), err)
			}
		})
	}
}
