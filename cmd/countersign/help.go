package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
)

// isHelp reports whether arg asks for help rather than naming a subcommand.
func isHelp(arg string) bool {
	return slices.Contains([]string{"-h", "-help", "--help", "help"}, arg)
}

// groupHelp answers "countersign GROUP --help" for a command with
// subcommands: their synopses on stdout, and flag.ErrHelp, which exits 0.
func groupHelp(stdout io.Writer, group string, synopses ...string) error {
	fmt.Fprintf(stdout, "Usage:\n")
	for _, s := range synopses {
		fmt.Fprintf(stdout, "  countersign %s %s\n", group, s)
	}
	fmt.Fprintf(stdout, "\nEach takes --help for its flags.\n")
	return flag.ErrHelp
}
