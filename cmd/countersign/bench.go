package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/internal/latency"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
)

// benchConfig is what `countersign bench` runs.
type benchConfig struct {
	URL         string // a running service, or several replicas' URLs separated by commas; empty: start one in-process
	Token       string // a worker's token, with URL
	EthicsToken string // an ethics-board token, with URL (for audit sizes and proofs)
	DSN         string // in-process: the database (default: a temporary SQLite file)
	Clients     int
	Duration    time.Duration
	Mode        string // lifecycle, notes, store
	RejectEvery int
	ProofEvery  int
	Baseline    bool
	JSON        bool
	CPUProfile  string
	Rate        float64 // iterations per second across all clients; 0: as fast as they go
	Iterations  int     // stop once this many iterations completed; 0: run for Duration
	// NoteRatio (lifecycle): also run the notes workload, half before and
	// half after, and compare the lifecycle's audited transactions with it.
	NoteRatio bool
	// UnloggedReads (reads, in process): every other stretch of the run
	// with the staff-read access log switched off (bench_accesslog.go).
	UnloggedReads bool
	// Poll (lifecycle) is how long a client waits between two reads of a
	// draft it waits for; zero: a quarter of the time waited so far,
	// between 2 and 20 ms (benchPollInterval).
	Poll time.Duration
	// Wait (lifecycle) reads a draft being generated with "Prefer: wait"
	// (the service answers once it is ready) instead of polling every
	// Poll; on unless --wait=false, or --poll is given without --wait.
	Wait bool
	// DBWaits (in process, PostgreSQL) samples what the database's
	// sessions wait on during the workload (bench_waits.go).
	DBWaits bool
}

// auditedTxPerLifecycle is the number of audited write transactions of one
// lifecycle: the note, the draft request, the worker's claim, its
// completion, the signer's first opening, and the decision.
const auditedTxPerLifecycle = 6

// benchReport is the outcome, printed as text or JSON.
type benchReport struct {
	Mode            string               `json:"mode"`
	Database        string               `json:"database"`
	Clients         int                  `json:"clients"`
	Replicas        int                  `json:"replicas"`
	TargetRate      float64              `json:"target_rate,omitempty"`
	Seconds         float64              `json:"seconds"`
	Steps           map[string]stepStats `json:"steps"`
	Iterations      int                  `json:"iterations"`
	IterationsPerS  float64              `json:"iterations_per_second"`
	AuditEvents     uint64               `json:"audit_events"`
	AuditEventsPerS float64              `json:"audit_events_per_second"`
	PeakRSSBytes    float64              `json:"server_peak_rss_bytes"`
	CheckpointLagMS float64              `json:"checkpoint_lag_ms,omitempty"`
	Errors          map[string]int       `json:"errors,omitempty"`
	BaselineTxPerS  float64              `json:"baseline_tx_per_second,omitempty"`
	RatioToBaseline float64              `json:"ratio_to_baseline,omitempty"`
	// With --note-ratio: the lifecycle's audited transactions per second
	// (auditedTxPerLifecycle per lifecycle), the notes per second of the
	// notes workload run before and after it, and their ratio.
	LifecycleTxPerS float64 `json:"lifecycle_audited_tx_per_second,omitempty"`
	NotesPerS       float64 `json:"notes_per_second,omitempty"`
	RatioToNotes    float64 `json:"ratio_to_notes,omitempty"`
	// With --unlogged-reads: p99 of each read with the access log on,
	// divided by p99 with it off.
	ReadLogP99Ratio map[string]float64 `json:"read_log_p99_ratio,omitempty"`
	// DraftPolls (lifecycle) is how many times a lifecycle read its draft
	// before it was ready, on average: requests the service answers
	// that the notes workload does not make.
	DraftPolls float64 `json:"draft_polls_per_lifecycle,omitempty"`
	// DBWaits (--db-waits): what the database's sessions waited on during
	// the workload.
	DBWaits *dbWaits `json:"db_waits,omitempty"`
}

type stepStats struct {
	Count  int     `json:"count"`
	PerSec float64 `json:"per_second"`
	P50MS  float64 `json:"p50_ms"`
	P95MS  float64 `json:"p95_ms"`
	P99MS  float64 `json:"p99_ms"`
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg := benchConfig{DSN: ""}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.StringVar(&cfg.URL, "url", "", "drive a running service at this base URL instead of starting one; several replicas' URLs separated by commas share the clients in turn")
	fs.StringVar(&cfg.Token, "token", getenv("COUNTERSIGN_BENCH_TOKEN"), "with --url: a worker's API token")
	fs.StringVar(&cfg.EthicsToken, "ethics-token", getenv("COUNTERSIGN_BENCH_ETHICS_TOKEN"), "with --url: an ethics-board token")
	fs.StringVar(&cfg.DSN, "db", getenv("DATABASE_URL"), "in-process: the database (default: a new temporary SQLite file)")
	fs.IntVar(&cfg.Clients, "clients", 8, "concurrent clients")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to run")
	fs.StringVar(&cfg.Mode, "mode", "lifecycle", "lifecycle (note, draft, open, decide, queue, proof), notes (note creation over HTTP), store (audited note creation in-process, no HTTP), or reads (GET a case and a ready draft, staff reads of case content)")
	fs.IntVar(&cfg.RejectEvery, "reject-every", 10, "lifecycle: reject every Nth draft instead of approving it")
	fs.IntVar(&cfg.ProofEvery, "proof-every", 10, "lifecycle: fetch an inclusion proof every Nth iteration")
	fs.BoolVar(&cfg.Baseline, "baseline", false, "also run two plain INSERTs per transaction on the same database, with the same clients, and print the ratio")
	fs.BoolVar(&cfg.JSON, "json", false, "print the report as JSON")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the whole run (client and in-process server) to this file")
	fs.IntVar(&cfg.Iterations, "iterations", 0, "stop once this many iterations have completed (the run still ends at --duration if that comes first)")
	fs.BoolVar(&cfg.NoteRatio, "note-ratio", false, "lifecycle: also run the notes workload with the same clients, a quarter of --duration before and a quarter after, and print the lifecycle's audited transactions per second against notes per second")
	fs.BoolVar(&cfg.UnloggedReads, "unlogged-reads", false, "reads, in process: switch the access log of staff reads off for every other half second of the run (a benchmark switch, not a setting of the service) and compare the p99s")
	fs.DurationVar(&cfg.Poll, "poll", 0, "lifecycle: wait this long between two reads of a draft being generated (0: a quarter of the time waited so far, between 2 and 20 ms)")
	fs.BoolVar(&cfg.Wait, "wait", true, "lifecycle: read a draft being generated with 'Prefer: wait=10', which the service answers once it is ready; --wait=false polls every --poll instead (as --poll alone does)")
	fs.BoolVar(&cfg.DBWaits, "db-waits", false, "in process on PostgreSQL (--db postgres://…): look at the database's sessions every 10 ms during the workload and print what share of their time went to each wait: CPU, IO:WALSync (a commit's flush), LWLock:WALWrite (waiting for another commit's flush), Lock:… (a row lock)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "start at most this many iterations per second across all clients (0: as many as the clients can), to measure latency below saturation")
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &ConfigError{Message: fmt.Sprintf("%s; see countersign bench --help.", err)}
	}
	// --poll alone keeps its old meaning: poll at that interval.
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["poll"] && !set["wait"] {
		cfg.Wait = false
	}
	if cfg.Clients < 1 || cfg.Duration <= 0 || cfg.Rate < 0 || cfg.Iterations < 0 {
		return countersign.Errorf(countersign.EINVALID, "--clients must be at least 1, --duration positive, and --rate and --iterations 0 or more.")
	}
	if !slices.Contains([]string{"lifecycle", "notes", "store", "reads"}, cfg.Mode) {
		return countersign.Errorf(countersign.EINVALID, "--mode must be lifecycle, notes, store or reads.")
	}
	if cfg.DBWaits && (cfg.URL != "" || !sqlstore.IsPostgres(cfg.DSN)) {
		return countersign.Errorf(countersign.EINVALID, "--db-waits looks at PostgreSQL's sessions: run in process with --db postgres://… (without --url).")
	}
	if cfg.UnloggedReads && (cfg.Mode != "reads" || cfg.URL != "") {
		return countersign.Errorf(countersign.EINVALID, "--unlogged-reads goes with --mode reads, in process (without --url).")
	}
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	b := &bench{cfg: cfg, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Clients * 2}}}
	rep, err := b.run(ctx, stderr)
	if err != nil {
		return err
	}
	if cfg.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printReport(stdout, rep)
	return nil
}

type bench struct {
	cfg    benchConfig
	urls   []string // the replicas; clients take them in turn
	client *http.Client
	main   *Main
	db     *sqlstore.DB
	tmp    string // in-process: the directory of the signing key and SQLite file

	// readsLogged is false while --unlogged-reads has the access log off;
	// readOff is the switch itself.
	readsLogged func() bool
	readOff     *atomic.Bool

	mu      sync.Mutex
	samples map[string][]time.Duration
	errs    map[string]int
	peakRSS float64
	polls   atomic.Int64 // reads of drafts not yet ready (lifecycle)
}

// benchPollInterval is how long a lifecycle waits before reading its draft
// again, waited long so far: fixed when --poll is set, otherwise a quarter
// of waited, between 2 and 20 ms, so a draft's readiness is seen within a
// quarter of its latency without eight clients reading every 2 ms (which
// made most of the lifecycle's requests when drafts took 100 ms).
func benchPollInterval(fixed, waited time.Duration) time.Duration {
	if fixed > 0 {
		return fixed
	}
	return min(max(waited/4, 2*time.Millisecond), 20*time.Millisecond)
}

func (b *bench) run(ctx context.Context, logw io.Writer) (*benchReport, error) {
	if b.db == nil && (b.cfg.URL == "" || b.cfg.Mode == "store") {
		if err := b.startInProcess(ctx); err != nil {
			return nil, err
		}
		defer os.RemoveAll(b.tmp)
		defer b.main.Close()
	}
	for u := range strings.SplitSeq(b.cfg.URL, ",") {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" {
			b.urls = append(b.urls, u)
		}
	}
	if len(b.urls) == 0 {
		return nil, countersign.Errorf(countersign.EINVALID, "--url names no service: give a base URL, or several separated by commas.")
	}
	b.samples, b.errs = map[string][]time.Duration{}, map[string]int{}
	rep := &benchReport{Mode: b.cfg.Mode, Clients: b.cfg.Clients, Replicas: len(b.urls), TargetRate: b.cfg.Rate, Database: "remote"}
	if b.db != nil {
		rep.Database = b.db.Dialect()
	}
	// The baseline runs half before and half after the workload, so a
	// machine whose load drifts during the run skews the ratio less.
	var baseTx, baseSec float64
	runBaseline := func() error {
		if !b.cfg.Baseline {
			return nil
		}
		if b.db == nil {
			return countersign.Errorf(countersign.EINVALID, "--baseline needs the database: run in-process with --db.")
		}
		n, secs, err := baseline(ctx, b.db, b.cfg.Clients, b.cfg.Duration/2)
		baseTx, baseSec = baseTx+n, baseSec+secs
		return err
	}
	if err := runBaseline(); err != nil {
		return nil, err
	}
	// The notes workload for --note-ratio runs, like the baseline, half
	// before and half after the lifecycles.
	var notes, notesSec float64
	runNotes := func() error {
		if !b.cfg.NoteRatio || b.cfg.Mode != "lifecycle" {
			return nil
		}
		nb := &bench{cfg: b.cfg, client: b.client, db: b.db}
		nb.cfg.Mode, nb.cfg.Duration, nb.cfg.Rate, nb.cfg.Iterations, nb.cfg.NoteRatio, nb.cfg.Baseline, nb.cfg.DBWaits = "notes", b.cfg.Duration/4, 0, 0, false, false, false
		r, err := nb.run(ctx, logw)
		if err != nil {
			return err
		}
		notes, notesSec = notes+float64(r.Iterations), notesSec+r.Seconds
		return nil
	}
	if err := runNotes(); err != nil {
		return nil, err
	}
	var stopSwitch func()
	if b.cfg.UnloggedReads {
		var err error
		if stopSwitch, err = b.switchReadLog(); err != nil {
			return nil, err
		}
	}
	// Every client sets up (its case, and for reads its ready draft) before
	// the clock starts, so --duration is all workload however slow setup.
	clients := make([]*benchClient, b.cfg.Clients)
	var setup sync.WaitGroup
	for i := range b.cfg.Clients {
		setup.Go(func() {
			c, err := b.newClient(ctx, i)
			if err != nil {
				b.fail("setup", err)
				return
			}
			clients[i] = c
		})
	}
	setup.Wait()
	size0, err := b.auditSize(ctx)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithTimeout(ctx, b.cfg.Duration)
	defer cancel()
	memDone := make(chan struct{})
	go func() { defer close(memDone); b.watchMemory(runCtx) }()
	// With --rate, clients start iterations on a shared schedule (no
	// bursts), so latencies are those of a service below saturation.
	limiter := rate.NewLimiter(rate.Inf, 0)
	if b.cfg.Rate > 0 {
		limiter = rate.NewLimiter(rate.Limit(b.cfg.Rate), 1)
	}
	var stopWaits func() (*dbWaits, error)
	if b.cfg.DBWaits {
		if stopWaits, err = b.sampleDBWaits(runCtx); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	iterations := make([]int, b.cfg.Clients)
	var completed atomic.Int64
	for i, c := range clients {
		if c == nil {
			continue
		}
		wg.Go(func() {
			for n := 0; limiter.Wait(runCtx) == nil; n++ {
				if err := c.iterate(runCtx, n); err == nil {
					iterations[i]++
					if b.cfg.Iterations > 0 && completed.Add(1) >= int64(b.cfg.Iterations) {
						cancel()
					}
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if stopWaits != nil {
		if rep.DBWaits, err = stopWaits(); err != nil {
			return nil, err
		}
	}
	if stopSwitch != nil {
		stopSwitch()
	}
	<-memDone
	if b.db != nil && b.main != nil {
		lag, err := b.checkpointLag(ctx)
		if err != nil {
			return nil, err
		}
		rep.CheckpointLagMS = float64(lag.Microseconds()) / 1000
	}
	size1, err := b.auditSize(ctx)
	if err != nil {
		return nil, err
	}
	rep.Seconds = elapsed.Seconds()
	for _, n := range iterations {
		rep.Iterations += n
	}
	rep.IterationsPerS = float64(rep.Iterations) / rep.Seconds
	if b.cfg.Mode == "lifecycle" && rep.Iterations > 0 {
		rep.DraftPolls = float64(b.polls.Load()) / float64(rep.Iterations)
	}
	rep.AuditEvents = size1 - size0
	rep.AuditEventsPerS = float64(rep.AuditEvents) / rep.Seconds
	rep.PeakRSSBytes = b.peakRSS
	rep.Steps = map[string]stepStats{}
	for step, ds := range b.samples {
		rep.Steps[step] = summarize(ds, elapsed)
	}
	if len(b.errs) > 0 {
		rep.Errors = b.errs
	}
	if b.cfg.Baseline {
		if err := runBaseline(); err != nil {
			return nil, err
		}
		rep.BaselineTxPerS = baseTx / baseSec
		changes := rep.AuditEventsPerS
		if s, ok := rep.Steps["note"]; ok && b.cfg.Mode != "lifecycle" {
			changes = s.PerSec
		}
		rep.RatioToBaseline = changes / rep.BaselineTxPerS
	}
	if b.cfg.NoteRatio && b.cfg.Mode == "lifecycle" {
		if err := runNotes(); err != nil {
			return nil, err
		}
		rep.LifecycleTxPerS = rep.IterationsPerS * auditedTxPerLifecycle
		if notesSec > 0 && notes > 0 {
			rep.NotesPerS = notes / notesSec
			rep.RatioToNotes = rep.LifecycleTxPerS / rep.NotesPerS
		}
	}
	if b.cfg.UnloggedReads {
		rep.ReadLogP99Ratio = map[string]float64{}
		for _, step := range []string{"case_read", "draft_read"} {
			if off := rep.Steps[step+"_unlogged"].P99MS; off > 0 {
				rep.ReadLogP99Ratio[step] = rep.Steps[step].P99MS / off
			}
		}
	}
	return rep, nil
}

// checkpointLag measures how long after the last write a signed checkpoint
// covers every event written, with the service's own background sequencer
// and notary doing the work.
func (b *bench) checkpointLag(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	var target int64
	if err := b.db.Raw().GetContext(ctx, &target, `SELECT (SELECT size FROM audit_head WHERE id = 1) + (SELECT COUNT(*) FROM audit_pending)`); err != nil {
		return 0, err
	}
	for {
		cp, err := b.db.LatestCheckpoint(ctx)
		if err == nil && cp.Size >= uint64(target) {
			return time.Since(start), nil
		}
		if time.Since(start) > 30*time.Second {
			return 0, fmt.Errorf("no checkpoint covered the %d events within 30s", target)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startInProcess runs the service on a free port with the demo seed.
func (b *bench) startInProcess(ctx context.Context) error {
	dsn := b.cfg.DSN
	dir, err := os.MkdirTemp("", "countersign-bench-")
	if err != nil {
		return err
	}
	b.tmp = dir
	if dsn == "" {
		dsn = filepath.Join(dir, "bench.db")
	}
	// The keys (signing, event and case keyring, beside one another) are
	// new for a new SQLite file; for a database named by --db they are
	// kept between runs, so a later run opens the demo case's text that
	// the first one sealed.
	keys := dir
	if b.cfg.DSN != "" {
		sum := sha256.Sum256([]byte(b.cfg.DSN))
		keys = filepath.Join(os.TempDir(), "countersign-bench-keys-"+hex.EncodeToString(sum[:6]))
		if err := os.MkdirAll(keys, 0o700); err != nil {
			return err
		}
	}
	m := NewMain(io.Discard, io.Discard, func(k string) string {
		if k == "COUNTERSIGN_AUDIT_KEY" {
			return filepath.Join(keys, "audit.key")
		}
		return ""
	})
	if b.cfg.UnloggedReads {
		if installReadLogSwitch == nil {
			return countersign.Errorf(countersign.EINVALID, "This build cannot switch the access log of staff reads off.")
		}
		b.readOff = installReadLogSwitch(m)
	}
	// The bench measures the service's capacity, not its per-token rate limit.
	m.Config.DSN, m.Config.Addr, m.Config.Demo, m.Config.Workers, m.Config.RateLimit = dsn, "127.0.0.1:0", true, 8, 0
	if err := m.Run(ctx); err != nil {
		return err
	}
	b.main, b.db = m, m.DB
	b.cfg.URL = "http://" + m.Addr()
	for _, t := range m.Tokens {
		switch t.Role {
		case "worker":
			b.cfg.Token = t.Token
		case "ethics":
			b.cfg.EthicsToken = t.Token
		}
	}
	return nil
}

func (b *bench) record(step string, d time.Duration) {
	b.mu.Lock()
	b.samples[step] = append(b.samples[step], d)
	b.mu.Unlock()
}

func (b *bench) fail(step string, err error) {
	b.mu.Lock()
	msg := err.Error()
	if countersign.ErrorCode(err) != countersign.EINTERNAL {
		msg = countersign.ErrorMessage(err)
	}
	if len(msg) > 300 {
		msg = msg[:300]
	}
	b.errs[step+": "+msg]++
	b.mu.Unlock()
}

// auditSize returns the log's size, from the database in-process or from a
// fresh checkpoint of the remote service.
func (b *bench) auditSize(ctx context.Context) (uint64, error) {
	if b.db != nil {
		return b.db.Sequence(ctx)
	}
	if b.cfg.EthicsToken == "" {
		return 0, nil
	}
	var body bytes.Buffer
	if err := b.do(ctx, "GET", "/v1/audit/checkpoint", b.cfg.EthicsToken, nil, 200, &body); err != nil {
		return 0, err
	}
	lines := strings.SplitN(body.String(), "\n", 3)
	if len(lines) < 2 {
		return 0, errors.New("malformed checkpoint")
	}
	return strconv.ParseUint(lines[1], 10, 64)
}

// watchMemory samples the server's resident memory from /metrics.
func (b *bench) watchMemory(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		var body bytes.Buffer
		for _, base := range b.urls {
			body.Reset()
			if err := b.doAt(context.Background(), base, "GET", "/metrics", "", nil, 200, &body); err != nil {
				continue
			}
			sc := bufio.NewScanner(&body)
			for sc.Scan() {
				if v, ok := strings.CutPrefix(sc.Text(), "process_resident_memory_bytes "); ok {
					if f, err := strconv.ParseFloat(v, 64); err == nil && f > b.peakRSS {
						b.peakRSS = f
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// do sends one request to the first replica; see doAt.
func (b *bench) do(ctx context.Context, method, path, token string, body any, status int, out any) error {
	return b.doAt(ctx, b.urls[0], method, path, token, body, status, out)
}

// doAt sends one request to the service at base and decodes JSON into out
// (or copies text into a *bytes.Buffer).
func (b *bench) doAt(ctx context.Context, base, method, path, token string, body any, status int, out any) error {
	_, err := b.doAtHeader(ctx, base, method, path, token, nil, body, status, out)
	return err
}

// doAtHeader is doAt with the request headers of hdr added; it returns
// the response's headers.
func (b *bench) doAtHeader(ctx context.Context, base, method, path, token string, hdr http.Header, body any, status int, out any) (http.Header, error) {
	var r io.Reader
	if body != nil {
		buf, _ := json.Marshal(body)
		r = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, r)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	// A request that asked Prefer: wait may be answered 200 where it
	// would be 202: what it waited for was done in time (RFC 7240).
	waited := status == http.StatusAccepted && resp.StatusCode == http.StatusOK && hdr.Get("Prefer") != ""
	if resp.StatusCode != status && !waited {
		raw, _ := io.ReadAll(resp.Body)
		return resp.Header, fmt.Errorf("%s %s: %d: %.200s", method, path, resp.StatusCode, raw)
	}
	switch o := out.(type) {
	case nil:
		_, err = io.Copy(io.Discard, resp.Body)
	case *bytes.Buffer:
		_, err = io.Copy(o, resp.Body)
	default:
		err = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.Header, err
}

// benchClient is one simulated worker with a case of its own.
type benchClient struct {
	b      *bench
	base   string // the replica this client talks to
	caseID string
	// draftID is the ready draft a reads client reads.
	draftID string
	i       int
	// actx carries the demo worker as actor, for the in-process store mode.
	actx context.Context
}

func (b *bench) newClient(ctx context.Context, i int) (*benchClient, error) {
	c := &benchClient{b: b, i: i, base: b.urls[i%len(b.urls)]}
	ref := fmt.Sprintf("BENCH-%d-%d-%d", time.Now().UnixNano(), i, rand.Int())
	if b.cfg.Mode == "store" {
		u, err := b.db.FindUserByEmail(ctx, demoUsers[0].Email)
		if err != nil {
			return nil, err
		}
		cs := &casefile.Case{Reference: ref, Title: "Benchmark case"}
		uctx := countersign.NewContextWithActor(ctx, u.Actor())
		c.actx = uctx
		if err := b.db.CreateCase(uctx, cs); err != nil {
			return nil, err
		}
		// The default policy needs the client's consent before drafting.
		if err := b.db.RecordConsent(uctx, &casefile.Consent{CaseID: cs.ID, Given: true}); err != nil {
			return nil, err
		}
		c.caseID = cs.ID
		return c, nil
	}
	var cs struct {
		ID string `json:"id"`
	}
	if err := c.do(ctx, "POST", "/v1/cases", b.cfg.Token, map[string]string{"reference": ref, "title": "Benchmark case"}, 201, &cs); err != nil {
		return nil, err
	}
	// The default policy needs the client's consent before drafting.
	if err := c.do(ctx, "POST", "/v1/cases/"+cs.ID+"/consent", b.cfg.Token, map[string]any{"given": true}, 201, nil); err != nil {
		return nil, err
	}
	c.caseID = cs.ID
	if b.cfg.Mode == "reads" {
		// A draft ready for review, to read again and again.
		var note struct {
			ID string `json:"id"`
		}
		if err := c.do(ctx, "POST", "/v1/cases/"+cs.ID+"/notes", b.cfg.Token, map[string]string{"body": benchNote}, 201, &note); err != nil {
			return nil, err
		}
		var d struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		if err := c.do(ctx, "POST", "/v1/cases/"+cs.ID+"/drafts", b.cfg.Token, map[string]any{"kind": "summary", "note_ids": []string{note.ID}}, 202, &d); err != nil {
			return nil, err
		}
		for d.Status != "pending_review" {
			if d.Status == "failed" || ctx.Err() != nil {
				return nil, fmt.Errorf("the draft to read did not become ready (%s)", d.Status)
			}
			time.Sleep(5 * time.Millisecond)
			if err := c.do(ctx, "GET", "/v1/drafts/"+d.ID, b.cfg.Token, nil, 200, &d); err != nil {
				return nil, err
			}
		}
		c.draftID = d.ID
	}
	return c, nil
}

// do sends one request to the client's replica.
func (c *benchClient) do(ctx context.Context, method, path, token string, body any, status int, out any) error {
	return c.b.doAt(ctx, c.base, method, path, token, body, status, out)
}

// timed runs one step and records its latency, or its error. Requests cut
// off by the end of the run are neither.
func (c *benchClient) timed(ctx context.Context, step string, fn func() error) error {
	start := time.Now()
	err := fn()
	if err != nil {
		if ctx.Err() == nil {
			c.b.fail(step, err)
		}
		return err
	}
	c.b.record(step, time.Since(start))
	return nil
}

const benchNote = "Home visit. The client reports two months of rent arrears and asks for help with the energy bill; an appointment is set for 14 December 2026."

func (c *benchClient) iterate(ctx context.Context, n int) error {
	b := c.b
	switch b.cfg.Mode {
	case "store":
		return c.timed(ctx, "note", func() error {
			return b.db.AddNote(c.actx, &casefile.Note{CaseID: c.caseID, Body: benchNote})
		})
	case "notes":
		return c.timed(ctx, "note", func() error {
			return c.do(ctx, "POST", "/v1/cases/"+c.caseID+"/notes", b.cfg.Token, map[string]string{"body": benchNote}, 201, nil)
		})
	case "reads":
		// With --unlogged-reads, the step names say whether the access
		// log was on when the iteration began.
		suffix := ""
		if b.readsLogged != nil && !b.readsLogged() {
			suffix = "_unlogged"
		}
		if err := c.timed(ctx, "case_read"+suffix, func() error {
			return c.do(ctx, "GET", "/v1/cases/"+c.caseID, b.cfg.Token, nil, 200, nil)
		}); err != nil {
			return err
		}
		return c.timed(ctx, "draft_read"+suffix, func() error {
			return c.do(ctx, "GET", "/v1/drafts/"+c.draftID, b.cfg.Token, nil, 200, nil)
		})
	}
	var note struct {
		ID string `json:"id"`
	}
	if err := c.timed(ctx, "note", func() error {
		return c.do(ctx, "POST", "/v1/cases/"+c.caseID+"/notes", b.cfg.Token, map[string]string{"body": benchNote}, 201, &note)
	}); err != nil {
		return err
	}
	var d struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	// With --wait the request itself is held by the service until the
	// draft is generated (Prefer: wait), and answers with its status
	// (200 once ready, 202 while still generated), without its content;
	// draft_request then includes the generation.
	var prefer http.Header
	if b.cfg.Wait {
		prefer = http.Header{"Prefer": {"wait=10"}}
	}
	start := time.Now()
	if err := c.timed(ctx, "draft_request", func() error {
		_, err := b.doAtHeader(ctx, c.base, "POST", "/v1/cases/"+c.caseID+"/drafts", b.cfg.Token, prefer, map[string]any{"kind": "summary", "note_ids": []string{note.ID}}, 202, &d)
		return err
	}); err != nil {
		return err
	}
	// Wait for the background worker: these reads are part of the
	// measured request-to-pending_review time. With --wait a draft the
	// request's answer found ready is opened by a plain read below; one
	// still generated is read with Prefer: wait, which the service holds
	// until it is ready, so one read is usually enough; without, the
	// client polls.
	held := b.cfg.Wait // until a service answers without holding the read
	// With --wait the read that finds the draft ready is the reviewer's
	// opening (the service records it and its access event), as a client
	// that waited would use it, and so is the plain read of a draft the
	// request's answer found ready (the open step); polling keeps the
	// separate opening read of the earlier runs, so they compare like for
	// like.
	var opened review.Draft
	for d.Status != "pending_review" {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d.Status == "failed" {
			b.fail("draft_ready", errors.New("draft failed"))
			return errors.New("draft failed")
		}
		if !held {
			// Polling, or a service that did not hold the read (one
			// that does not know the preference, or too busy to wait).
			time.Sleep(benchPollInterval(b.cfg.Poll, time.Since(start)))
		}
		b.polls.Add(1)
		opened = review.Draft{}
		h, err := b.doAtHeader(ctx, c.base, "GET", "/v1/drafts/"+d.ID, b.cfg.Token, prefer, nil, 200, &opened)
		d.Status = string(opened.Status)
		held = b.cfg.Wait && h.Get("Preference-Applied") != ""
		if err != nil {
			if ctx.Err() == nil {
				b.fail("draft_ready", err)
			}
			return err
		}
	}
	b.record("draft_ready", time.Since(start))
	if !b.cfg.Wait || opened.Content == nil {
		if err := c.timed(ctx, "open", func() error {
			return c.do(ctx, "GET", "/v1/drafts/"+d.ID, b.cfg.Token, nil, 200, &opened)
		}); err != nil {
			return err
		}
	}
	if b.cfg.RejectEvery > 0 && n%b.cfg.RejectEvery == b.cfg.RejectEvery-1 {
		if err := c.timed(ctx, "reject", func() error {
			return c.do(ctx, "POST", "/v1/drafts/"+d.ID+"/reject", b.cfg.Token, map[string]string{"reason": "incomplete"}, 200, nil)
		}); err != nil {
			return err
		}
	} else if err := c.timed(ctx, "approve", func() error {
		return c.do(ctx, "POST", "/v1/drafts/"+d.ID+"/approve", b.cfg.Token, benchApproval(&opened), 200, nil)
	}); err != nil {
		return err
	}
	if err := c.timed(ctx, "queue", func() error {
		return c.do(ctx, "GET", "/v1/review/queue?limit=50", b.cfg.Token, nil, 200, nil)
	}); err != nil {
		return err
	}
	if b.cfg.ProofEvery > 0 && n%b.cfg.ProofEvery == 0 && b.cfg.EthicsToken != "" {
		return c.timed(ctx, "proof", func() error {
			return c.do(ctx, "GET", "/v1/audit/proof/inclusion?index=0", b.cfg.EthicsToken, nil, 200, nil)
		})
	}
	return nil
}

// benchApproval is the body of the approval of d: every statement the
// reviewer must decide on (review.NeedsDecision: high-stakes, unclear or
// not traced to the notes) confirmed, with the comment an untraced one
// needs, as a reviewer who read them against the note would.
func benchApproval(d *review.Draft) map[string]any {
	decisions := []review.StatementDecision{}
	if d.Content != nil {
		for _, s := range d.Content.Statements {
			if review.NeedsDecision(s) {
				decisions = append(decisions, review.StatementDecision{ID: s.ID, Action: "confirmed", Comment: "Read against the note."})
			}
		}
	}
	return map[string]any{"statements": decisions}
}

func summarize(ds []time.Duration, elapsed time.Duration) stepStats {
	slices.Sort(ds)
	q := func(p float64) float64 { return latency.QuantileMS(ds, p) }
	return stepStats{Count: len(ds), PerSec: float64(len(ds)) / elapsed.Seconds(), P50MS: q(0.50), P95MS: q(0.95), P99MS: q(0.99)}
}

// baseline measures the database's own limit for this workload's shape:
// two plain INSERTs per transaction (a domain row and an audit row), with
// no chain, sequencer or HTTP, from the same number of clients.
func baseline(ctx context.Context, db *sqlstore.DB, clients int, d time.Duration) (txs, seconds float64, err error) {
	raw := db.Raw()
	for _, s := range []string{
		`CREATE TABLE IF NOT EXISTS bench_baseline_a (id TEXT PRIMARY KEY, body TEXT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS bench_baseline_b (id TEXT PRIMARY KEY, payload TEXT NOT NULL)`,
	} {
		if _, err := raw.ExecContext(ctx, s); err != nil {
			return 0, 0, fmt.Errorf("baseline tables: %w", err)
		}
	}
	runCtx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	start := time.Now()
	for range clients {
		wg.Go(func() {
			n := 0
			for runCtx.Err() == nil {
				tx, err := raw.BeginTxx(runCtx, nil)
				if err != nil {
					continue
				}
				id := countersign.NewID("b")
				_, err1 := tx.ExecContext(runCtx, raw.Rebind(`INSERT INTO bench_baseline_a (id, body) VALUES (?, ?)`), id, benchNote)
				_, err2 := tx.ExecContext(runCtx, raw.Rebind(`INSERT INTO bench_baseline_b (id, payload) VALUES (?, ?)`), id, `{"action":"note.added"}`)
				if err1 != nil || err2 != nil || tx.Commit() != nil {
					tx.Rollback()
					continue
				}
				n++
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	return float64(total), time.Since(start).Seconds(), nil
}

func printReport(w io.Writer, r *benchReport) {
	fmt.Fprintf(w, "countersign bench: mode %s, database %s, %d clients, %d replica(s), %.1fs\n", r.Mode, r.Database, r.Clients, r.Replicas, r.Seconds)
	if r.TargetRate > 0 {
		fmt.Fprintf(w, "paced at %.1f iterations/s\n", r.TargetRate)
	}
	steps := make([]string, 0, len(r.Steps))
	for s := range r.Steps {
		steps = append(steps, s)
	}
	slices.Sort(steps)
	fmt.Fprintf(w, "%-14s %8s %10s %9s %9s %9s\n", "step", "count", "per s", "p50 ms", "p95 ms", "p99 ms")
	for _, s := range steps {
		st := r.Steps[s]
		fmt.Fprintf(w, "%-14s %8d %10.1f %9.2f %9.2f %9.2f\n", s, st.Count, st.PerSec, st.P50MS, st.P95MS, st.P99MS)
	}
	fmt.Fprintf(w, "iterations: %d (%.1f/s)\n", r.Iterations, r.IterationsPerS)
	if r.DraftPolls > 0 {
		fmt.Fprintf(w, "draft reads before ready: %.1f per lifecycle\n", r.DraftPolls)
	}
	fmt.Fprintf(w, "audited events: %d (%.1f/s)\n", r.AuditEvents, r.AuditEventsPerS)
	fmt.Fprintf(w, "server peak RSS: %.1f MB\n", r.PeakRSSBytes/1e6)
	if r.CheckpointLagMS > 0 {
		fmt.Fprintf(w, "signed checkpoint covered every event %.0f ms after the last write\n", r.CheckpointLagMS)
	}
	if r.BaselineTxPerS > 0 {
		fmt.Fprintf(w, "baseline (2 plain INSERTs per tx, no audit chain): %.1f tx/s; ratio %.2f\n", r.BaselineTxPerS, r.RatioToBaseline)
	}
	if r.NotesPerS > 0 {
		fmt.Fprintf(w, "lifecycle: %.1f audited transactions/s (%d per lifecycle) against %.1f notes/s in the same run: ratio %.2f\n",
			r.LifecycleTxPerS, auditedTxPerLifecycle, r.NotesPerS, r.RatioToNotes)
	}
	for _, step := range []string{"case_read", "draft_read"} {
		if v, ok := r.ReadLogP99Ratio[step]; ok {
			fmt.Fprintf(w, "%s: p99 with the access log %.2f times p99 without\n", step, v)
		}
	}
	if r.DBWaits != nil {
		r.DBWaits.print(w)
	}
	for e, n := range r.Errors {
		fmt.Fprintf(w, "error x%d: %s\n", n, e)
	}
}

// installReadLogSwitch makes the in-process server's log of staff reads
// switchable for --unlogged-reads, before it starts, and returns the
// switch: while it is set, reads are served without writing their access
// event. It is a benchmark's instrument, never a setting of the service
// (bench_accesslog.go sets it); nil when this build has none.
var installReadLogSwitch func(m *Main) (off *atomic.Bool)

// switchReadLog turns the access log off and on again every half second
// until stop is called, so both halves of the comparison see the same
// machine load; the iterations record which half they began in.
func (b *bench) switchReadLog() (stop func(), err error) {
	if b.readOff == nil {
		return nil, countersign.Errorf(countersign.EINVALID, "--unlogged-reads needs the service in process.")
	}
	b.readsLogged = func() bool { return !b.readOff.Load() }
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				b.readOff.Store(false)
				return
			case <-t.C:
				b.readOff.Store(!b.readOff.Load())
			}
		}
	})
	return func() { close(done); wg.Wait() }, nil
}
