package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/countersign/countersign/api"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// testBundle is a server on a real database with the fixture's tokens.
type testBundle struct {
	srv    *httptest.Server
	db     *sqlstore.DB
	f      *storetest.Fixture
	runner *review.Runner
	tokens map[string]string // role name -> token
	spec   *spec
}

func setup(t *testing.T, open storetest.Opener, opts ...func(*api.Server)) *testBundle {
	t.Helper()
	db := open(t)
	f := storetest.MustSeed(t, db)
	signer, _, err := audit.LoadOrCreateSigner(t.TempDir()+"/key", "test.local/audit")
	if err != nil {
		t.Fatal(err)
	}
	s := api.NewServer()
	s.Identity, s.Cases, s.Review, s.Audit = db, db, db, db
	s.Clients = db
	s.AuditProofs = &audit.Notary{Store: db, Signer: signer, Origin: "test.local/audit"}
	s.Export = db.Export
	s.MaxBodyBytes = 64 << 10
	s.Checks["database"] = db.Ping
	for _, o := range opts {
		o(s)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	b := &testBundle{srv: srv, db: db, f: f, tokens: map[string]string{}, spec: loadSpec(t),
		runner: &review.Runner{Store: db, Drafter: &assistant.Drafter{Model: assistant.Extractive{}}, Owner: "test"}}
	for name, u := range map[string]string{"worker": f.Worker.ID, "supervisor": f.Supervisor.ID, "ethics": f.Ethics.ID,
		"admin": f.Admin.ID, "other": f.Other.ID, "othersup": f.OtherSupervisor.ID} {
		_, secret, err := db.CreateToken(storetest.CLI(), u, "test", nil)
		if err != nil {
			t.Fatal(err)
		}
		b.tokens[name] = secret
	}
	return b
}

// call sends a request as role ("" for none) and checks the response
// against the OpenAPI document, then decodes it into out when non-nil.
func (b *testBundle) call(t *testing.T, role, method, path string, body any, wantStatus int, out any) *http.Response {
	t.Helper()
	var r io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(v)
	default:
		buf, _ := json.Marshal(v)
		r = bytes.NewReader(buf)
	}
	req, _ := http.NewRequest(method, b.srv.URL+path, r)
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+b.tokens[role])
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s as %s: status %d, want %d: %s", method, path, role, resp.StatusCode, wantStatus, raw)
	}
	b.spec.check(t, method, req.URL.Path, resp, raw)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
	}
	return resp
}

// spec validates responses against the schemas of api/openapi.json.
type spec struct {
	doc   map[string]any
	paths []pathRe
	c     *jsonschema.Compiler
	mu    sync.Mutex
	seen  map[string]bool
}

type pathRe struct {
	re       *regexp.Regexp
	template string
}

func loadSpec(t testing.TB) *spec {
	var doc map[string]any
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	s := &spec{doc: doc, c: jsonschema.NewCompiler(), seen: map[string]bool{}}
	docAny, _ := jsonschema.UnmarshalJSON(bytes.NewReader(api.OpenAPI()))
	if err := s.c.AddResource("https://countersign.test/openapi.json", docAny); err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`\\\{[a-z_]+\\\}`)
	for p := range doc["paths"].(map[string]any) {
		re := "^" + param.ReplaceAllString(regexp.QuoteMeta(p), `[^/]+`) + "$"
		s.paths = append(s.paths, pathRe{regexp.MustCompile(re), p})
	}
	return s
}

func pointerEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func (s *spec) check(t *testing.T, method, path string, resp *http.Response, raw []byte) {
	t.Helper()
	var tmpl string
	for _, p := range s.paths {
		// A literal path beats a template ("/v1/audit/entries" vs "/v1/audit/entries/{seq}").
		if p.re.MatchString(path) && (tmpl == "" || !strings.Contains(p.template, "{")) {
			tmpl = p.template
		}
	}
	if tmpl == "" {
		t.Fatalf("%s is not in openapi.json", path)
	}
	ops := s.doc["paths"].(map[string]any)[tmpl].(map[string]any)
	op, ok := ops[strings.ToLower(method)].(map[string]any)
	if !ok {
		t.Fatalf("%s %s is not in openapi.json", method, tmpl)
	}
	status := fmt.Sprint(resp.StatusCode)
	rs, ok := op["responses"].(map[string]any)[status].(map[string]any)
	if !ok {
		t.Fatalf("%s %s: status %s is not documented", method, tmpl, status)
	}
	if resp.StatusCode == http.StatusNoContent {
		if _, ok := rs["content"]; ok || len(raw) > 0 {
			t.Fatalf("%s %s: a 204 has no content", method, tmpl)
		}
		return
	}
	ctype := strings.Split(resp.Header.Get("Content-Type"), ";")[0]
	content, _ := rs["content"].(map[string]any)
	if _, ok := content[ctype]; !ok {
		t.Fatalf("%s %s %s: content type %q is not documented", method, tmpl, status, ctype)
	}
	if !strings.Contains(ctype, "json") || strings.Contains(ctype, "ndjson") {
		return
	}
	ptr := "https://countersign.test/openapi.json#/paths/" + pointerEscape(tmpl) + "/" + strings.ToLower(method) + "/responses/" + status + "/content/" + pointerEscape(ctype) + "/schema"
	s.mu.Lock()
	sch, err := s.c.Compile(ptr)
	s.mu.Unlock()
	if err != nil {
		t.Fatalf("compile schema %s: %v", ptr, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s %s: response is not JSON: %v", method, path, err)
	}
	if err := sch.Validate(v); err != nil {
		t.Fatalf("%s %s %s: response does not match openapi.json: %v\n%s", method, tmpl, status, err, raw)
	}
}

func forEachDialect(t *testing.T, fn func(t *testing.T, open storetest.Opener)) {
	for name, open := range storetest.Dialects() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, open)
		})
	}
}
