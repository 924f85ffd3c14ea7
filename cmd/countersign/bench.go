package main

import (
	"context"
	"io"

	"github.com/countersign/countersign"
)

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	return countersign.Errorf(countersign.EINVALID, "The benchmark harness is not built yet.")
}
