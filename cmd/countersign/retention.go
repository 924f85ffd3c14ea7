package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/api"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
)

// retentionUsage are the synopses of `countersign retention`.
var retentionUsage = []string{
	"plan                                what the retention job would erase, and when (closed cases of the case types the policy's retention: section names)",
	"run [--limit N]                     erase now the cases whose retention period ended and that no legal hold stops",
}

// retentionSettings are the settings `countersign retention` reads: the
// database and its keys, and the policy file with its retention: section.
var retentionSettings = []string{"config", "db", "event-key", "case-keyring", "policy"}

// runRetention is `countersign retention plan|run` (issue 19).
func runRetention(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 || isHelp(args[0]) {
		if len(args) == 0 {
			return &ConfigError{Message: "retention needs a subcommand: plan or run; see countersign retention --help."}
		}
		return groupHelp(stdout, "retention", retentionUsage...)
	}
	ctx = countersign.NewContextWithActor(ctx, countersign.Actor{UserID: "system:retention", Role: countersign.RoleSystem})
	fs := flag.NewFlagSet("retention "+args[0], flag.ContinueOnError)
	fs.SetOutput(stdout)
	var limit *int
	switch args[0] {
	case "plan":
	case "run":
		limit = fs.Int("limit", 1000, "erase at most this many cases")
	default:
		return &ConfigError{Message: fmt.Sprintf("retention has no subcommand %q: use plan or run; see countersign retention --help.", args[0])}
	}
	cfg, err := loadConfig(fs, args[1:], getenv, retentionSettings...)
	if err != nil {
		return err
	}
	policy, err := review.LoadPolicy(cfg.PolicyPath)
	if err != nil {
		return err
	}
	db, err := cfg.openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	db.Policy = policy
	if len(policy.Retention.Keep) == 0 {
		fmt.Fprintln(stdout, "The policy has no retention: section: no case is erased by the retention job.")
		return nil
	}
	if limit == nil {
		return printPlan(ctx, db, stdout)
	}
	es, err := db.RunRetention(ctx, *limit)
	for _, e := range es {
		fmt.Fprintf(stdout, "Erased case %s (%s, rule %s, policy %.12s): %d notes, %d parties, %d drafts, %d record entries; %d case keys destroyed.\n",
			e.CaseID, e.CaseType, e.Rule, e.PolicyVersion, e.Counts["notes"], e.Counts["parties"], e.Counts["drafts"], e.Counts["record_entries"], e.Keys)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d cases erased under retention policy %.12s.\n", len(es), policy.Retention.Version)
	return nil
}

// printPlan writes the retention plan as a table: one closed case a line,
// soonest erasure first.
func printPlan(ctx context.Context, db *sqlstore.DB, stdout io.Writer) error {
	plan, err := db.RetentionPlan(ctx)
	if err != nil {
		return err
	}
	if len(plan) == 0 {
		fmt.Fprintln(stdout, "No closed case of a case type with a retention period.")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tREFERENCE\tTYPE\tCLOSED\tPERIOD\tERASED FROM\tSTATE")
	due := 0
	for _, p := range plan {
		state := "waiting"
		switch {
		case p.Held:
			state = "legal hold"
		case p.Due:
			state, due = "due", due+1
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.CaseID, p.Reference, p.CaseType, p.ClosedAt.Format(time.DateOnly), p.Period,
			p.ErasesAt.Format(time.DateOnly), state)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d of %d due now; countersign retention run erases them (serve's job does every --retention-every).\n", due, len(plan))
	return nil
}

// wireRetention serves closure, holds and erasure requests through the
// API (issue 19).
func (m *Main) wireRetention(db *sqlstore.DB, s *api.Server) {
	s.Retention = db.RetentionStore
}

// runRetentionJob erases expired cases every --retention-every until ctx
// ends. Every replica runs it; each case is erased once
// (sqlstore.RetentionStore.RunRetention).
func (m *Main) runRetentionJob(ctx context.Context, db *sqlstore.DB) {
	every := m.Config.RetentionEvery
	if every <= 0 {
		every = time.Hour
	}
	db.RunRetentionJob(ctx, every, func(err error) {
		m.Logger.Error("retention job", "op", "retention.run", "err", err)
	})
}
