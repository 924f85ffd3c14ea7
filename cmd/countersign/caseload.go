package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/caseload"
	"github.com/countersign/countersign/review"
)

const caseloadUsage = `Usage: countersign caseload --file EXPORT [--policy FILE] [--team TEAM_ID] [--at TIME] [--time-zone ZONE] [--format csv|table]
                          [--pseudonyms (--pseudonym-key HEX | --signing-key FILE)]
       countersign caseload --show-pseudonym-key --signing-key FILE

Recomputes the caseload of each team (or of --team) from an audit export
alone (countersign audit export, or GET /v1/audit/export), by the
caseload: section of the policy file: each worker's active cases by type,
weighted load, load per full-time post against the band, drafts waiting
for review, overdue hard deadlines and median review time of AI drafts.
The CSV is the table GET /v1/teams/{id}/caseload answers with Accept:
text/csv for the same data. Verify the export first with countersign
audit verify --file EXPORT --key VKEY: this command only reads it.

With --pseudonyms the workers are shown as the ethics board sees them on
the API and the web (GET /v1/teams/{id}/caseload as the board): by the
keyed pseudonyms of the statistics, HMAC-SHA256 under a key derived from
the audit log's signing key, so the board's recomputation prints the
table it is shown. The board is given that key in hex (--pseudonym-key),
which the operator prints with --show-pseudonym-key --signing-key FILE;
the key turns ids into pseudonyms but signs nothing. On the service's own
machine --signing-key FILE derives it directly; the file is only read.

Flags:
`

// runCaseload runs countersign caseload.
func runCaseload(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("caseload", flag.ContinueOnError)
	// parseFlags prints a bare usage on --help; this command prints its own.
	fs.SetOutput(io.Discard)
	file := fs.String("file", "", "the audit export to read (NDJSON); - reads standard input")
	policyPath := fs.String("policy", "", "the policy file whose caseload: section (and case_types) apply; the default policy when empty")
	team := fs.String("team", "", "the team to show; every team holding cases when empty")
	at := fs.String("at", "", "the time the figures are taken at (RFC 3339, or a date for its end in UTC); now when empty")
	zone := fs.String("time-zone", "Europe/Brussels", "the service's time zone, in which a deadline's day has passed")
	format := fs.String("format", "csv", "csv (the API's table) or table (aligned columns)")
	pseudonyms := fs.Bool("pseudonyms", false, "show workers by the board's keyed pseudonyms (needs --pseudonym-key or --signing-key)")
	pkey := fs.String("pseudonym-key", "", "the board's pseudonym key, 64 hex digits (from --show-pseudonym-key)")
	skey := fs.String("signing-key", "", "the audit log's signing key file, to derive the pseudonym key from (only read)")
	showKey := fs.Bool("show-pseudonym-key", false, "print the pseudonym key derived from --signing-key, in hex, and stop")
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, caseloadUsage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return err
		}
		return &ConfigError{Message: fmt.Sprintf("%s; see countersign caseload --help.", err)}
	}
	if fs.NArg() == 0 && *showKey {
		key, err := pseudonymKey("", *skey)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, hex.EncodeToString(key))
		return nil
	}
	var pseudonym func(string) string
	if *pseudonyms {
		key, err := pseudonymKey(*pkey, *skey)
		if err != nil {
			return err
		}
		pseudonym = audit.Pseudonymizer(key)
	} else if *pkey != "" || *skey != "" {
		return &ConfigError{Message: "--pseudonym-key and --signing-key go with --pseudonyms (or --show-pseudonym-key)."}
	}
	switch {
	case fs.NArg() > 0:
		return &ConfigError{Message: fmt.Sprintf("caseload takes no argument %q; name the export with --file.", fs.Arg(0))}
	case *file == "":
		return &ConfigError{Message: "name the audit export with --file (countersign audit export writes one)."}
	case *format != "csv" && *format != "table":
		return &ConfigError{Message: fmt.Sprintf("--format is csv or table, not %q.", *format)}
	}
	loc, err := time.LoadLocation(*zone)
	if err != nil {
		return &ConfigError{Message: fmt.Sprintf("--time-zone must be an IANA time zone such as Europe/Brussels, not %q.", *zone)}
	}
	when := time.Now().UTC().Truncate(time.Microsecond)
	if *at != "" {
		if when, err = parseAt(*at); err != nil {
			return &ConfigError{Message: fmt.Sprintf("--at is a time such as 2026-12-01T10:00:00Z or a date such as 2026-12-01, not %q.", *at)}
		}
	}
	policy, err := review.LoadPolicy(*policyPath)
	if err != nil {
		return &ConfigError{Message: err.Error()}
	}
	var in io.Reader = os.Stdin
	if *file != "-" {
		f, err := os.Open(*file)
		if err != nil {
			return &ConfigError{Message: fmt.Sprintf("the export cannot be read: %s.", errors.Unwrap(err))}
		}
		defer f.Close()
		in = f
	}
	rd, err := audit.NewReader(bufio.NewReaderSize(in, 1<<20))
	if err != nil {
		return &ConfigError{Message: fmt.Sprintf("%s: %s.", *file, err)}
	}
	r := caseload.NewReplay(loc)
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return &ConfigError{Message: fmt.Sprintf("%s: %s.", *file, err)}
		}
		if e.At.After(when) {
			continue // the figures are taken at --at: later events do not count
		}
		r.Add(e)
	}
	teams := r.Teams()
	if *team != "" {
		if !slices.Contains(teams, *team) {
			return &ConfigError{Message: fmt.Sprintf("the export holds no case of team %q.", *team)}
		}
		teams = []string{*team}
	}
	cp := policy.Caseload
	for i, id := range teams {
		t := cp.Figures(r.Input(cp, id, when), policy.CaseTypes, when)
		if pseudonym != nil {
			t.Pseudonymize(pseudonym)
		}
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		if err := writeCaseload(stdout, t, *format); err != nil {
			return err
		}
	}
	return nil
}

// pseudonymKey returns the board's pseudonym key: hexKey decoded, or the
// key derived from the signing key file skeyPath as the service derives
// it (audit.Notary.PseudonymKey).
func pseudonymKey(hexKey, skeyPath string) ([]byte, error) {
	switch {
	case hexKey != "" && skeyPath != "":
		return nil, &ConfigError{Message: "give --pseudonym-key or --signing-key, not both."}
	case hexKey != "":
		key, err := hex.DecodeString(strings.TrimSpace(hexKey))
		if err != nil || len(key) != sha256.Size {
			return nil, &ConfigError{Message: "--pseudonym-key is 64 hex digits, as --show-pseudonym-key prints it."}
		}
		return key, nil
	case skeyPath == "":
		return nil, &ConfigError{Message: "the pseudonyms need their key: give --pseudonym-key HEX, or --signing-key FILE on the service's machine."}
	}
	b, err := os.ReadFile(skeyPath)
	if err != nil {
		return nil, &ConfigError{Message: fmt.Sprintf("the signing key cannot be read: %s.", errors.Unwrap(err))}
	}
	signer, _, err := audit.SignerFromKey(string(b))
	if err != nil {
		return nil, &ConfigError{Message: fmt.Sprintf("%s: %s.", skeyPath, err)}
	}
	return (&audit.Notary{Signer: signer}).PseudonymKey()
}

// parseAt reads --at: an RFC 3339 time, or a date meaning its last moment in UTC.
func parseAt(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC().Truncate(time.Microsecond), nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, err
	}
	return d.Add(24*time.Hour - time.Microsecond), nil
}

// writeCaseload writes t as the API's CSV, or as aligned columns.
func writeCaseload(w io.Writer, t *caseload.Team, format string) error {
	if format == "csv" {
		return t.WriteCSV(w)
	}
	var b strings.Builder
	if err := t.WriteCSV(&b); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for line := range strings.Lines(b.String()) {
		fmt.Fprintln(tw, strings.ReplaceAll(strings.TrimRight(line, "\r\n"), ",", "\t"))
	}
	return tw.Flush()
}
