package casefile_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/casefile"
)

// TestDecideCaseBoundsReferenceAndTitle: the one place that bounds a
// case's reference and title, for the API and the pages alike; characters
// are counted, not bytes.
func TestDecideCaseBoundsReferenceAndTitle(t *testing.T) {
	t.Parallel()
	worker := &casefile.Worker{ID: "usr_sup", Role: countersign.RoleSupervisor, TeamID: "team_a"}
	for _, tc := range []struct {
		name, reference, title, field string
	}{
		{"Fits", strings.Repeat("é", casefile.MaxReferenceLen), strings.Repeat("ß", casefile.MaxTitleLen), ""},
		{"NoReference", " ", "Housing", "reference"},
		{"ReferenceTooLong", strings.Repeat("r", casefile.MaxReferenceLen+1), "Housing", "reference"},
		{"NoTitle", "C-1", "", "title"},
		{"TitleTooLong", "C-1", strings.Repeat("é", casefile.MaxTitleLen+1), "title"},
	} {
		c := &casefile.Case{Reference: tc.reference, Title: tc.title, WorkerID: worker.ID}
		_, err := casefile.DecideCase(supervisor, c, worker, nil, t0)
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		var e *countersign.Error
		if !errors.As(err, &e) || e.Code != countersign.EINVALID || len(e.Fields) != 1 || e.Fields[0].Field != tc.field || e.Fields[0].Message == "" {
			t.Errorf("%s: got %v, want 422 naming %s", tc.name, err, tc.field)
		}
	}
}
