package assistant

import (
	"fmt"
	"testing"
)

func TestLimitEntriesKeepsWhatTheServiceReadsAsHighStakes(t *testing.T) {
	t.Parallel()
	c := &Content{}
	for i := range maxEntries + 20 {
		c.Statements = append(c.Statements, Statement{ID: fmt.Sprintf("s%d", i), Text: fmt.Sprintf("The family went to the park on day %d.", i)})
	}
	// Unlabelled, and last: the model gave it no category.
	risky := Statement{ID: "risky", Text: "Mme Martin dit qu'elle ne veut plus vivre."}
	c.Statements = append(c.Statements, risky)
	limitEntries(c)
	if len(c.Statements) != maxEntries {
		t.Fatalf("%d statements kept, want %d", len(c.Statements), maxEntries)
	}
	if last := c.Statements[len(c.Statements)-1]; last.ID != risky.ID {
		t.Fatalf("the unlabelled high-stakes statement was dropped; the last kept is %q", last.Text)
	}
}
