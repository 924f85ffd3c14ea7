package sqlstore_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestThePayloadWalkCoversEveryAction reads the Action constants of the
// packages that write events and checks that storetest's payload walk
// (Payloads/EveryEventHoldsOnlyIdsCodesNumbersTimesAndCommitments) drives
// every one of them, so that no action added later escapes the rule that
// the log holds no free text.
func TestThePayloadWalkCoversEveryAction(t *testing.T) {
	t.Parallel()
	constant := regexp.MustCompile(`\bAction\w*\s*=\s*"([a-z_]+\.[a-z_]+)"`)
	var declared []string
	for _, dir := range []string{"../audit", "../identity", "../casefile", "../review", "../agenda", "../assistant", "../client", "."} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range constant.FindAllStringSubmatch(string(src), -1) {
				declared = append(declared, m[1])
			}
		}
	}
	if len(declared) < 20 {
		t.Fatalf("found only %d action constants: %v", len(declared), declared)
	}
	walked := storetest.EveryLoggedAction()
	for _, a := range declared {
		// A checkpoint is a signed note beside the log, not an event.
		if a != "checkpoint.signed" && !slices.Contains(walked, a) {
			t.Errorf("action %s is declared but the payload walk does not drive it (storetest/payloads.go)", a)
		}
	}
	for _, a := range walked {
		if !slices.Contains(declared, a) {
			t.Errorf("the payload walk lists %s, which no Action constant declares", a)
		}
	}
}
