package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/sqlstore"
)

// runAudit runs the ethics board's tools. verify exits 0 only when every
// check holds, 1 when the log fails a check, 2 on a usage error.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "Use: countersign audit verify|checkpoint|export|key")
		return 2
	}
	if isHelp(args[0]) {
		_ = groupHelp(stdout, "audit", "verify [--file EXPORT --key VKEY] [--since CHECKPOINT] [--save FILE]", "checkpoint", "export", "key")
		return 0
	}
	if !slices.Contains([]string{"verify", "checkpoint", "export", "key"}, args[0]) {
		fmt.Fprintf(stderr, "countersign audit: unknown command %q; use verify, checkpoint, export or key.\n", args[0])
		return 2
	}
	fs := flag.NewFlagSet("audit "+args[0], flag.ContinueOnError)
	fs.SetOutput(stdout) // --help; mistakes are worded below, on stderr
	var (
		file, since, save string
		quiet             bool
		// --key may be repeated (a key rotation: old and new key) and each
		// value may list several keys separated by commas.
		keyList []string
	)
	if args[0] == "verify" { // the other commands take only the settings
		fs.StringVar(&file, "file", "", "an export file (- for stdin) instead of the live database")
		fs.Func("key", "the log's public verifier key; repeat it (or separate keys by commas) during a key rotation", func(v string) error {
			for k := range strings.SplitSeq(v, ",") {
				if k = strings.TrimSpace(k); k != "" {
					keyList = append(keyList, k)
				}
			}
			return nil
		})
		fs.StringVar(&since, "since", "", "the checkpoint you saved last time, to prove the log only grew")
		fs.StringVar(&save, "save", "", "write the verified checkpoint to this file for next time")
		fs.BoolVar(&quiet, "quiet", false, "no progress output")
	}
	cfg, err := loadConfig(fs, args[1:], getenv, "config", "db", "audit-key", "audit-origin", "event-key", "case-keyring")
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "countersign audit %s: %s\n", args[0], describe(err))
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "countersign audit %s: %s\n", args[0], describe(err))
		return 1
	}
	switch args[0] {
	case "key":
		_, vkey, err := audit.LoadOrCreateSigner(cfg.keyPath(), cfg.AuditOrigin)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintln(stdout, vkey)
		return 0
	case "verify":
		if len(keyList) == 0 {
			if v := getenv("COUNTERSIGN_AUDIT_VERIFIER_KEY"); v != "" {
				keyList = strings.Split(v, ",")
			}
		}
		return verify(ctx, cfg, file, keyList, since, save, quiet, stdout, stderr)
	case "checkpoint", "export":
		db, err := cfg.openDB(ctx)
		if err != nil {
			return fail(err)
		}
		defer db.Close()
		signer, _, err := audit.LoadOrCreateSigner(cfg.keyPath(), cfg.AuditOrigin)
		if err != nil {
			return fail(err)
		}
		n := &audit.Notary{Store: db, Signer: signer, Origin: cfg.AuditOrigin}
		cp, err := n.Checkpoint(ctx)
		if err != nil {
			return fail(err)
		}
		if args[0] == "checkpoint" {
			_, _ = stdout.Write(cp.Note)
			return 0
		}
		if err := db.Export(ctx, stdout, cp); err != nil {
			return fail(err)
		}
		return 0
	}
	fmt.Fprintf(stderr, "countersign audit: unknown command %q\n", args[0])
	return 2
}

func verify(ctx context.Context, cfg Config, file string, vkeys []string, sincePath, savePath string, quiet bool, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "countersign audit verify: %s\n", describe(err))
		return 2
	}
	var keys []note.Verifier
	var err error
	if len(vkeys) == 0 && file == "" {
		// Live verification on the service's own machine: derive the
		// verifier from the signing key.
		_, vkey, err := audit.LoadOrCreateSigner(cfg.keyPath(), cfg.AuditOrigin)
		if err != nil {
			return fail(err)
		}
		vkeys = []string{vkey}
	}
	if len(vkeys) > 0 {
		if keys, err = audit.ParseVerifierKeys(vkeys...); err != nil {
			return fail(err)
		}
	} else {
		return fail(errors.New("give the log's verifier key with --key (from 'countersign audit key')"))
	}
	v := &audit.Verifier{Origin: cfg.AuditOrigin, Keys: keys}
	if file != "" {
		v.Origin = "" // taken from the export header
	}
	if sincePath != "" {
		b, err := os.ReadFile(sincePath)
		if err != nil {
			return fail(err)
		}
		origin := v.Origin
		if origin == "" {
			origin = cfg.AuditOrigin
		}
		if v.Since, err = audit.OpenCheckpoint(b, originOf(b, origin), keys[0], keys[1:]...); err != nil {
			fmt.Fprintf(stdout, "FAILED: your saved checkpoint is refused: %v\n", err)
			return 1
		}
	}
	bar := newProgress(stderr, quiet)
	v.Progress = bar.update
	var rep *audit.Report
	if file != "" {
		var r io.Reader = os.Stdin
		if file != "-" {
			f, err := os.Open(file)
			if err != nil {
				return fail(err)
			}
			defer f.Close()
			r = f
		}
		rep, err = v.VerifyExport(ctx, bufio.NewReaderSize(r, 1<<20))
	} else {
		rep, err = verifyLive(ctx, cfg, v, bar)
	}
	bar.done()
	// A stored tile that differs from the events makes opening the
	// database (which brings the tiles up to the log) or sequencing refuse
	// rather than rebuild over it: damage to the stored log, so a finding
	// (exit 1) in the report's words, not an operational failure (exit 2).
	if problem, ok := sqlstore.TileProblem(err); ok {
		fmt.Fprintf(stdout, "FAILED: %s\n", problem)
		if errors.As(err, new(notOpened)) {
			fmt.Fprintln(stdout, "Opening the database refuses to rebuild the tiles over it, so the rest of the log and the case data were not checked, and the service does not start (AUDIT.md section 8).")
		}
		return 1
	}
	if err != nil {
		return fail(err)
	}
	// On the live database the case data is then held against the log:
	// exit 1 when it disagrees, 2 when it cannot be read.
	caseData := func(code int) int {
		if file != "" {
			return code
		}
		switch ok, err := verifyCaseData(ctx, cfg, stdout); {
		case err != nil:
			return fail(err)
		case !ok:
			return max(code, 1)
		}
		return code
	}
	if !rep.OK {
		if rep.FirstBad != nil {
			fmt.Fprintf(stdout, "FAILED at entry %d: %s\n", *rep.FirstBad, rep.Problem)
		} else {
			fmt.Fprintf(stdout, "FAILED: %s\n", rep.Problem)
		}
		fmt.Fprint(stdout, lostSince(v.Since, rep))
		return caseData(1)
	}
	// The root as the signed checkpoint writes it (base64), so the two can
	// be compared by eye.
	fmt.Fprintf(stdout, "OK: %d entries verified; checkpoint at size %d verified; root %s\n", rep.Events, rep.CheckpointSize, base64.StdEncoding.EncodeToString(rep.Root))
	if rep.Tiles > 0 {
		fmt.Fprintf(stdout, "OK: tiles: %d stored tiles match the events, so the proofs served from them are right.\n", rep.Tiles)
	}
	if v.Since != nil {
		fmt.Fprintf(stdout, "The log still holds the %d events of your saved checkpoint, unchanged, and %d more.\n", v.Since.Size, rep.Events-v.Since.Size)
	}
	if savePath != "" && rep.Checkpoint != nil {
		if err := os.WriteFile(savePath, rep.Checkpoint.Note, 0o644); err != nil {
			return fail(err)
		}
	}
	return caseData(0)
}

// originOf reads the origin line of a signed checkpoint, falling back to def.
func originOf(signed []byte, def string) string {
	if line, _, ok := strings.Cut(string(signed), "\n"); ok && line != "" {
		return line
	}
	return def
}

// verifyLive verifies the database: events streamed in pages against a
// checkpoint signed now.
func verifyLive(ctx context.Context, cfg Config, v *audit.Verifier, bar *progress) (*audit.Report, error) {
	db, err := cfg.openDB(ctx)
	if err != nil {
		return nil, notOpened{err}
	}
	defer db.Close()
	signer, _, err := audit.LoadOrCreateSigner(cfg.keyPath(), cfg.AuditOrigin)
	if err != nil {
		return nil, err
	}
	n := &audit.Notary{Store: db, Signer: signer, Origin: cfg.AuditOrigin}
	head, err := db.Head(ctx)
	if err != nil {
		return nil, err
	}
	bar.total = head.Size
	return verifyStoredLog(ctx, db, n, v)
}

// notOpened is verifyLive's failure to open the database, worded as the
// error it wraps: verify tells the board that the run checked nothing
// else when the refusal was a stored tile that differs from the events.
type notOpened struct{ error }

func (e notOpened) Unwrap() error { return e.error }

// verifyStoredLog is the verification of the live database that `audit
// verify` and the board's "Verify the log" button run: every event against
// a checkpoint signed now (Notary.VerifyLog), every stored tile, which
// proofs are served from, against the tree the events give, then every
// entry's MAC.
func verifyStoredLog(ctx context.Context, db *sqlstore.DB, n *audit.Notary, v *audit.Verifier) (*audit.Report, error) {
	// Sequencing brings the tiles up to the log (sqlstore's syncTiles), so
	// every tile of the entries sequenced so far must be stored.
	tiled, err := db.Sequence(ctx)
	if err != nil {
		return verifyUnsequenced(ctx, db, n, v, err)
	}
	v.Tiles, v.TiledSize = db, tiled
	rep, err := n.VerifyLog(ctx, v, db.AllStoredEvents)
	if errors.Is(err, audit.ErrTileDiffers) {
		// The checkpoint's own sequencing met the tile: entries appended
		// since the first (the service writes while the board verifies)
		// reached a stored tile that differs from the events. The same
		// damage as above, so the same answer, not an error in its place.
		return verifyUnsequenced(ctx, db, n, v, err)
	}
	if err != nil {
		return nil, err
	}
	return rep, reportForgedEvents(ctx, db, rep)
}

// verifyUnsequenced is verifyStoredLog when sequencing failed with seqErr.
// The sequencer continues the tiles at the right edge of the tree, and
// fails when one it must continue is missing or holds fewer hashes than
// the log gives it (a level-1 tile deleted or cut short, found when a
// batch completes a level-0 tile): damage to the stored log, which must
// fail the run (exit 1) naming the tile, not pass for an operational
// failure (exit 2). So the log is verified as it stands, with a
// checkpoint of the head signed without sequencing again, and every tile
// the head's entries need must be stored: each batch was tiled in the
// transaction that sequenced it, and what a replica of release 1.0.0 left
// untiled the sequencer failed to tile just now, so proofs of it cannot
// be served either. Only when that finds nothing wrong is seqErr the
// answer: the failure was operational (the database went away, a lock
// timed out).
func verifyUnsequenced(ctx context.Context, db *sqlstore.DB, n *audit.Notary, v *audit.Verifier, seqErr error) (*audit.Report, error) {
	h, err := db.Head(ctx)
	if err != nil {
		return nil, seqErr
	}
	v.Tiles, v.TiledSize = db, h.Size
	asStored := &audit.Notary{Store: unsequenced{db}, Signer: n.Signer, Origin: n.Origin, Logger: n.Logger}
	rep, err := asStored.VerifyLog(ctx, v, db.AllStoredEvents)
	if err != nil {
		return nil, seqErr
	}
	if err := reportForgedEvents(ctx, db, rep); err != nil || rep.OK {
		return nil, seqErr
	}
	return rep, nil
}

// unsequenced is the store with sequencing left out: its Sequence reports
// the head as it stands, so a Notary signs the log as it is.
type unsequenced struct{ *sqlstore.DB }

func (s unsequenced) Sequence(ctx context.Context) (uint64, error) {
	h, err := s.Head(ctx)
	if err != nil {
		return 0, err
	}
	return h.Size, nil
}
