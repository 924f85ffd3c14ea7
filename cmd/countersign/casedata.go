package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/internal/sealbox"
	"github.com/countersign/countersign/sqlstore"
)

// maxFindings bounds the problems verify prints one by one; the count
// says how many there are in all.
const maxFindings = 1000

// verifyCaseData holds the live database's case data against the log
// (sqlstore.CheckCaseData) and prints each problem by table and id, then a
// summary line. It reports whether the data agrees with the log.
func verifyCaseData(ctx context.Context, cfg Config, stdout io.Writer) (bool, error) {
	// The case text is sealed at rest: the check opens it with the case
	// master keyring (--case-keyring).
	ring, err := sealbox.LoadKeyring(cfg.caseKeyringPath())
	if err != nil {
		return false, err
	}
	db, err := sqlstore.Open(ctx, cfg.DSN)
	if err != nil {
		return false, err
	}
	defer db.Close()
	db.CaseKeys = ring
	ctx = countersign.NewContextWithActor(ctx, countersign.SystemCLI)
	printed := 0
	rep, err := db.CheckCaseData(ctx, func(f audit.DataFinding) error {
		if printed++; printed <= maxFindings {
			fmt.Fprintf(stdout, "FAILED: %s\n", f)
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	total := 0
	var counts []string
	for _, t := range slices.Sorted(maps.Keys(rep.Rows)) {
		total += rep.Rows[t]
		counts = append(counts, fmt.Sprintf("%s %d", t, rep.Rows[t]))
	}
	summary := fmt.Sprintf("%d rows of case data checked against the log (%s)", total, strings.Join(counts, ", "))
	if rep.Waiting > 0 {
		summary += fmt.Sprintf("; %d of them against events not yet sequenced", rep.Waiting)
	}
	if !rep.OK() {
		if rep.Problems > maxFindings {
			fmt.Fprintf(stdout, "FAILED: … and %d more problems\n", rep.Problems-maxFindings)
		}
		fmt.Fprintf(stdout, "FAILED: case data: %d problems; %s\n", rep.Problems, summary)
		return false, nil
	}
	fmt.Fprintf(stdout, "OK: case data: %s\n", summary)
	return true, nil
}
