package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/countersign/countersign/assistant/stakes"
)

const evalUsage = `Usage: countersign eval gate [--set FILE] [-v]

Measures the service's own high-stakes detector (assistant/stakes) on a
labelled set: recall and precision of "needs a closer look" overall and per
language, and per product and fine category. Exits 1 when recall is below
0.95 or precision below 0.70, overall or in a language.
`

// runEval runs countersign eval: only the gate can be measured today.
func runEval(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return &ConfigError{Message: "say what to measure: countersign eval gate; see countersign eval gate --help."}
	}
	switch args[0] {
	case "gate":
		return runEvalGate(args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, evalUsage)
		return flag.ErrHelp
	}
	return &ConfigError{Message: fmt.Sprintf("there is nothing called %q to measure; use countersign eval gate.", args[0])}
}

func runEvalGate(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("eval gate", flag.ContinueOnError)
	fs.SetOutput(stdout)
	set := fs.String("set", "", "a labelled set: one sentence a line, language<TAB>labels<TAB>sentence, labels as in\nassistant/stakes/testdata/gate.tsv (cp, vi, sh, he, ca, su, pc, ri, or - for none);\nthe set kept with the detector when empty")
	verbose := fs.Bool("v", false, "list the sentences the detector missed or flagged wrongly")
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &ConfigError{Message: fmt.Sprintf("%s; see countersign eval gate --help.", err)}
	}
	if fs.NArg() > 0 {
		return &ConfigError{Message: fmt.Sprintf("eval gate takes no argument %q; give a set with --set.", fs.Arg(0))}
	}
	cases := stakes.LabelledSet()
	if *set != "" {
		f, err := os.Open(*set)
		if err != nil {
			return &ConfigError{Message: fmt.Sprintf("the labelled set cannot be read: %s.", errors.Unwrap(err))}
		}
		defer f.Close()
		if cases, err = stakes.ParseSet(f); err != nil {
			return &ConfigError{Message: fmt.Sprintf("%s: %s.", *set, err)}
		}
		if len(cases) == 0 {
			return &ConfigError{Message: fmt.Sprintf("%s holds no labelled sentence.", *set)}
		}
	}
	rep := stakes.Evaluate(stakes.Default(), stakes.DetectorVersion(), cases)
	if err := rep.Write(stdout, *verbose); err != nil {
		return err
	}
	if fails := rep.Failures(); len(fails) > 0 {
		return fmt.Errorf("the detector misses its targets: %s", strings.Join(fails, "; "))
	}
	fmt.Fprintln(stdout, "all targets met")
	return nil
}
