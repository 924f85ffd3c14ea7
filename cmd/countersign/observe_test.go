package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/internal/metrics"
	"github.com/countersign/countersign/internal/tracing"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// promqlParser parses the expressions of the alerting rules and the
// dashboard as Prometheus itself does.
var promqlParser = parser.NewParser(parser.Options{})

// seriesIn returns the metric names an expression selects.
func seriesIn(t *testing.T, expr string) []string {
	t.Helper()
	e, err := promqlParser.ParseExpr(expr)
	if err != nil {
		t.Fatalf("%q: %v", expr, err)
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			names = append(names, vs.Name)
		}
		return nil
	})
	return names
}

// alertSeries parses deploy/prometheus/alerts.yml with Prometheus's own
// rule loader, which validates each expression, each duration and each
// template, and returns the series the rules name by alert.
func alertSeries(t *testing.T) map[string][]string {
	t.Helper()
	groups, errs := rulefmt.ParseFile("../../deploy/prometheus/alerts.yml", false, model.UTF8Validation, promqlParser, slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatalf("alerts.yml: %v", errs)
	}
	runbook, err := os.ReadFile("../../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#+ (.+)$`).FindAllStringSubmatch(string(runbook), -1) {
		anchors[strings.ToLower(strings.NewReplacer(" ", "-", ".", "", ",", "", "`", "", "(", "", ")", "", ":", "", "'", "").Replace(m[1]))] = true
	}
	out := map[string][]string{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s has a rule that is not an alert", g.Name)
				continue
			}
			if r.Labels["severity"] != "page" && r.Labels["severity"] != "ticket" {
				t.Errorf("%s: severity %q, want page or ticket", r.Alert, r.Labels["severity"])
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("%s has no summary", r.Alert)
			}
			rb, ok := strings.CutPrefix(r.Annotations["runbook"], "docs/OPERATIONS.md#")
			if !ok || !anchors[rb] {
				t.Errorf("%s: runbook %q is no heading of docs/OPERATIONS.md", r.Alert, r.Annotations["runbook"])
			}
			out[r.Alert] = seriesIn(t, r.Expr)
		}
	}
	for _, need := range []string{"CountersignCheckpointStale", "CountersignDraftQueueStuck", "CountersignModelBreakerOpen", "CountersignAuditEventsRefused"} {
		if _, ok := out[need]; !ok {
			t.Errorf("alerts.yml has no %s", need)
		}
	}
	return out
}

// dashboardSeries returns the series each panel of the Grafana dashboard names.
func dashboardSeries(t *testing.T) map[string][]string {
	t.Helper()
	buf, err := os.ReadFile("../../deploy/grafana/countersign.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
			FieldConfig struct {
				Defaults struct {
					Unit string `json:"unit"`
				} `json:"defaults"`
			} `json:"fieldConfig"`
		} `json:"panels"`
	}
	dec := json.NewDecoder(strings.NewReader(string(buf)))
	if err := dec.Decode(&d); err != nil || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard: uid %q, %d panels, %v", d.UID, len(d.Panels), err)
	}
	out := map[string][]string{}
	for _, p := range d.Panels {
		if len(p.Targets) == 0 || p.FieldConfig.Defaults.Unit == "" {
			t.Errorf("panel %q has no query or no unit", p.Title)
		}
		for _, tg := range p.Targets {
			out[p.Title] = append(out[p.Title], seriesIn(t, tg.Expr)...)
		}
	}
	return out
}

// scrapeNames returns the sample names of a /metrics scrape, histogram
// _bucket, _sum and _count included, and the HELP line of each family.
func scrapeNames(t *testing.T, base string) (names map[string]bool, help map[string]string) {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	names, help = map[string]bool{}, map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if h, ok := strings.CutPrefix(line, "# HELP "); ok {
			name, text, _ := strings.Cut(h, " ")
			help[name] = text
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		names[line[:strings.IndexAny(line, "{ ")]] = true
	}
	return names, help
}

// TestEveryMonitoredSeriesExists runs the service through a draft, then
// checks that every series the alerting rules and the dashboard name is in
// its /metrics scrape (the per-team queue and the checkpoint's age appear
// once there is a queue and a checkpoint: the scrape is read again until
// they do), and that every countersign series has help text and a unit.
func TestEveryMonitoredSeriesExists(t *testing.T) {
	t.Parallel()
	want := map[string][]string{} // series → where it is named
	for alert, ss := range alertSeries(t) {
		for _, s := range ss {
			want[s] = append(want[s], "alert "+alert)
		}
	}
	for panel, ss := range dashboardSeries(t) {
		for _, s := range ss {
			want[s] = append(want[s], "panel "+panel)
		}
	}
	delete(want, "up") // Prometheus's own, for the scrape itself

	b := startDrafting(t, storetest.SQLiteDSN(t), nil)
	var d review.Draft
	b.do(t, b.f.Worker, "POST", "/v1/cases/"+b.f.Case.ID+"/drafts", map[string]any{"kind": "summary"}, nil, 202, &d)
	b.await(t, d.ID, settled)

	var missing []string
	deadline := time.Now().Add(patience)
	for {
		names, help := scrapeNames(t, b.base)
		missing = missing[:0]
		for s, where := range want {
			if !names[s] {
				missing = append(missing, fmt.Sprintf("%s (%s)", s, strings.Join(where, ", ")))
			}
		}
		if len(missing) == 0 {
			// The HTTP series keep their route patterns under the
			// tracing handler, which routes a copy of the request.
			resp, err := http.Get(b.base + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(body), `countersign_http_requests_total{route="POST /v1/cases/{id}/drafts",status="202"}`) {
				t.Error("the request metrics lost their route pattern")
			}
			for name, text := range help {
				if !strings.HasPrefix(name, "countersign_") {
					continue
				}
				if len(text) < 20 {
					t.Errorf("%s has help %q", name, text)
				}
				if !regexp.MustCompile(`_(total|seconds|events|bytes|depth|open|up|drafts)$|^countersign_drafts$`).MatchString(name) {
					t.Errorf("%s names no unit", name)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			sort.Strings(missing)
			t.Fatalf("not in the scrape:\n  %s", strings.Join(missing, "\n  "))
		}
		time.Sleep(pollInterval)
	}
}

// TestReadyzReportsTheSequencerAndTheKeys: /readyz names the database, the
// sequencer and the keys; a key file that vanished is reported, without
// making the service unready (it holds the key in memory).
func TestReadyzReportsTheSequencerAndTheKeys(t *testing.T) {
	t.Parallel()
	m := MustRunMain(t, storetest.SQLiteDSN(t), false, io.Discard)
	ready := func() (int, map[string]string) {
		resp, err := http.Get("http://" + m.Addr() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Checks map[string]string `json:"checks"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body.Checks
	}
	code, checks := ready()
	if code != 200 || checks["database"] != "ok" || checks["sequencer"] != "ok" || checks["keys"] != "ok" {
		t.Fatalf("readyz %d %v", code, checks)
	}
	if err := os.Rename(m.Config.eventKeyPath(), m.Config.eventKeyPath()+".moved"); err != nil {
		t.Fatal(err)
	}
	code, checks = ready()
	if code != 200 || !strings.HasPrefix(checks["keys"], "degraded: ") || !strings.Contains(checks["keys"], "event key") {
		t.Fatalf("readyz without the event key file: %d %v", code, checks)
	}
}

// TestTracesCarryNoCaseText runs a draft's whole life (a note, the draft
// through the go-openai provider, the approval) with every span sent to an
// in-memory exporter through the service's redaction, then checks each
// attribute of each span: its key is on the allow-list, only the keys that
// otelhttp adds on its own (the client's address, the user agent, the raw
// path, the Host asked for) were dropped, and no value holds the note's text, a name of the
// fixture, a token or an address. It also checks that the spans it promises
// exist: the HTTP request by route, the store transaction, the drafting job
// and the model call beneath it.
//
// It is not parallel: the tracer provider is global, and the parallel tests
// start only after it.
func TestTracesCarryNoCaseText(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	var mu sync.Mutex
	dropped := map[attribute.Key]bool{}
	p := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracing.Redact(sdktrace.NewSimpleSpanProcessor(exp), func(k attribute.Key) {
		mu.Lock()
		dropped[k] = true
		mu.Unlock()
	})))
	restore := tracing.Install(p)
	defer restore(t.Context())

	b := startDrafting(t, storetest.SQLiteDSN(t), nil)
	const secretNote = "Herr Quirinus Tafelberg sagte am Telefon, dass die Wohnung in der Lindenallee 17 kalt ist."
	var n casefile.Note
	b.do(t, b.f.Worker, "POST", "/v1/cases/"+b.f.Case.ID+"/notes", map[string]any{"body": secretNote}, nil, 201, &n)
	var d review.Draft
	b.do(t, b.f.Worker, "POST", "/v1/cases/"+b.f.Case.ID+"/drafts", map[string]any{"kind": "summary", "note_ids": []string{n.ID}}, nil, 202, &d)
	got := b.await(t, d.ID, settled)
	if got.Status != review.StatusPendingReview {
		t.Fatalf("draft %s: %s", got.Status, got.FailureReason)
	}
	var approve map[string]any
	if err := json.Unmarshal([]byte(approval(got.Content)), &approve); err != nil {
		t.Fatal(err)
	}
	b.do(t, b.f.Worker, "POST", "/v1/drafts/"+d.ID+"/approve", approve, nil, 200, nil)

	// A span ends just after its work answers: wait for the last ones.
	wanted := []string{"POST /v1/cases/{id}/notes", "POST /v1/cases/{id}/drafts", "POST /v1/drafts/{id}/approve", "sqlstore.tx", "draft.job", "model.generate"}
	var spans tracetest.SpanStubs
	deadline := time.Now().Add(patience)
	for {
		spans = exp.GetSpans()
		if !slices.ContainsFunc(wanted, func(w string) bool {
			return !slices.ContainsFunc(spans, func(s tracetest.SpanStub) bool { return s.Name == w })
		}) || time.Now().After(deadline) {
			break
		}
		time.Sleep(pollInterval)
	}

	secrets := append([]string{"quirinus", "tafelberg", "lindenallee", "telefon", "127.0.0.1", "go-http-client", strings.ToLower(b.f.Case.Title)}, storetest.FixtureSecrets.Words...)
	for _, tok := range b.tokens {
		secrets = append(secrets, strings.ToLower(tok))
	}
	names := map[string]bool{}
	traces := map[string]map[string]bool{} // trace id → span names
	for _, s := range spans {
		names[s.Name] = true
		id := s.SpanContext.TraceID().String()
		if traces[id] == nil {
			traces[id] = map[string]bool{}
		}
		traces[id][s.Name] = true
		for _, kv := range s.Attributes {
			if !tracing.IsAllowed(kv.Key) {
				t.Errorf("span %s has attribute %s, not on the allow-list", s.Name, kv.Key)
			}
			for _, sec := range secrets {
				if strings.Contains(strings.ToLower(kv.Value.Emit()), sec) {
					t.Errorf("span %s attribute %s = %q holds %q", s.Name, kv.Key, kv.Value.Emit(), sec)
				}
			}
		}
		for _, sec := range secrets {
			if strings.Contains(strings.ToLower(s.Name), sec) || strings.Contains(strings.ToLower(s.Status.Description), sec) {
				t.Errorf("span %q (status %q) holds %q", s.Name, s.Status.Description, sec)
			}
		}
		if len(s.Events) > 0 || len(s.Links) > 0 {
			t.Errorf("span %s has events or links, which no allow-list covers", s.Name)
		}
	}
	var keys []string
	for k := range dropped {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains([]string{"client.address", "network.peer.address", "network.peer.port", "user_agent.original", "url.path", "server.address", "server.port"}, k) {
			t.Errorf("redaction dropped %s, which our own instrumentation should never have set", k)
		}
	}
	for _, want := range wanted {
		if !names[want] {
			t.Errorf("no span %q among %v", want, names)
		}
	}
	together := func(a, b string) bool {
		for _, tr := range traces {
			if tr[a] && tr[b] {
				return true
			}
		}
		return false
	}
	if !together("draft.job", "model.generate") || !together("POST /v1/drafts/{id}/approve", "sqlstore.tx") {
		t.Errorf("the model call is not in the job's trace, or the approval's transaction not in its request's: %v", traces)
	}
}

// fakeAccounts answers every sign-in with err.
type fakeAccounts struct {
	client.Accounts
	err error
}

func (f fakeAccounts) Redeem(context.Context, client.Redemption) (*client.Session, string, error) {
	return &client.Session{}, "s", f.err
}

func (f fakeAccounts) SignInWithPassphrase(context.Context, client.SignInFilter, string, client.SessionKind, string) (*client.Session, string, error) {
	return &client.Session{}, "s", f.err
}

func (f fakeAccounts) SignInWithPasskey(context.Context, string, []byte, []byte, string) (*client.Session, string, error) {
	return &client.Session{}, "s", f.err
}

// TestClientSignInsAreCounted: the store both doors are given counts each
// client sign-in, ok or refused; a store failure is neither. Not parallel:
// the counters are the process's, and other tests sign clients in.
func TestClientSignInsAreCounted(t *testing.T) {
	ok, refused := metrics.ClientSignIns.WithLabelValues("ok"), metrics.ClientSignIns.WithLabelValues("refused")
	ok0, refused0 := testutil.ToFloat64(ok), testutil.ToFloat64(refused)
	ctx := context.Background()
	for _, err := range []error{nil, countersign.Errorf(countersign.EUNAUTHORIZED, "no"), countersign.Errorf(countersign.EUNAVAILABLE, "down")} {
		c := countedSignIns{fakeAccounts{err: err}}
		c.Redeem(ctx, client.Redemption{})
		c.SignInWithPassphrase(ctx, client.SignInFilter{}, "", client.KindToken, "en")
		c.SignInWithPasskey(ctx, "", nil, nil, "en")
	}
	if d := testutil.ToFloat64(ok) - ok0; d != 3 {
		t.Errorf("%v sign-ins counted ok, want 3", d)
	}
	if d := testutil.ToFloat64(refused) - refused0; d != 3 {
		t.Errorf("%v sign-ins counted refused, want 3", d)
	}
}
