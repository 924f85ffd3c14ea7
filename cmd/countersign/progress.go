package main

import (
	"fmt"
	"io"
	"os"
	"time"
)

// progress draws a one-line progress bar on a terminal for long
// verifications. Written to a file or a pipe (a log, a cron job's mail) it
// draws nothing: carriage returns are noise there.
type progress struct {
	w     io.Writer
	quiet bool
	total uint64
	last  time.Time
	shown bool
}

func newProgress(w io.Writer, quiet bool) *progress {
	return &progress{w: w, quiet: quiet || !isTerminal(w)}
}

// isTerminal reports whether w is a terminal (a character device; /dev/null
// is one too, where drawing costs nothing).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (p *progress) update(done uint64) {
	if p.quiet || time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last, p.shown = time.Now(), true
	if p.total > 0 {
		const width = 30
		n := min(int(done*width/p.total), width)
		fmt.Fprintf(p.w, "\r[%-*s] %d/%d entries", width, string(bytesOf('#', n)), done, p.total)
		return
	}
	fmt.Fprintf(p.w, "\r%d entries checked", done)
}

func (p *progress) done() {
	if p.shown {
		fmt.Fprintln(p.w)
	}
}

func bytesOf(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}
