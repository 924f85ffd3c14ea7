package api

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/review"
)

// The OpenAPI document is written by hand; this test holds it to the binary.
// It reads the route table and the handlers from the package's source (go/ast),
// the request types by reflection, and the document as JSON, and checks:
//   - every /v1 route of the mux is documented, and every documented
//     operation is routed (and answers 401 without an actor);
//   - an operation has a JSON request body exactly when its handler decodes
//     one, and the body's schema states what the Go type and its validate
//     tags enforce: the same fields, required as validate "required" says,
//     maxLength/minLength/maxItems/minItems/maximum/minimum as max=, min=,
//     len=, lte=, gte= say, enum as oneof= (or the domain's list) says, no
//     unknown fields;
//   - every query parameter and header a handler reads, and every response
//     header it sets, is documented, and every documented query parameter
//     is read; path parameters match the route's wildcards;
//   - every error code the server can answer is in the Problem schema.

// requestTypes are the types handlers decode bodies into, by name. A
// handler decoding into a type missing here fails the test: add it.
var requestTypes = map[string]reflect.Type{
	"caseCreateRequest":       reflect.TypeFor[caseCreateRequest](),
	"partyCreateRequest":      reflect.TypeFor[partyCreateRequest](),
	"noteCreateRequest":       reflect.TypeFor[noteCreateRequest](),
	"draftCreateRequest":      reflect.TypeFor[draftCreateRequest](),
	"approveRequest":          reflect.TypeFor[approveRequest](),
	"rejectRequest":           reflect.TypeFor[rejectRequest](),
	"countersignRequest":      reflect.TypeFor[countersignRequest](),
	"reassignRequest":         reflect.TypeFor[reassignRequest](),
	"correctRequest":          reflect.TypeFor[correctRequest](),
	"consentRequest":          reflect.TypeFor[consentRequest](),
	"refuseCorrectionRequest": reflect.TypeFor[refuseCorrectionRequest](),
	"clientSessionRequest":    reflect.TypeFor[clientSessionRequest](),
	"agendaCreateRequest":     reflect.TypeFor[agendaCreateRequest](),
	"agendaUpdateRequest":     reflect.TypeFor[agendaUpdateRequest](),
	"agendaCloseRequest":      reflect.TypeFor[agendaCloseRequest](),
	"markReadRequest":         reflect.TypeFor[markReadRequest](),
	"clientFeedRequest":       reflect.TypeFor[clientFeedRequest](),
	"clientRespondRequest":    reflect.TypeFor[clientRespondRequest](),
	"clientAnswerRequest":     reflect.TypeFor[clientAnswerRequest](),
	"assignRequest":           reflect.TypeFor[assignRequest](),
	"closeRequest":            reflect.TypeFor[closeRequest](),
	"holdRequest":             reflect.TypeFor[holdRequest](),
	"erasureFileRequest":      reflect.TypeFor[erasureFileRequest](),
}

// domainEnums are fields whose allowed values the domain decides (the tag
// only bounds the length); the document must list exactly these.
var domainEnums = map[fieldKey][]string{
	{reflect.TypeFor[approveRequest](), "reason_code"}:       review.EditReasons,
	{reflect.TypeFor[itemDecisionReq](), "reason_code"}:      review.EditReasons,
	{reflect.TypeFor[statementDecisionReq](), "reason_code"}: review.EditReasons,
	{reflect.TypeFor[rejectRequest](), "reason"}:             review.RejectReasons,
	{reflect.TypeFor[approveRequest](), "sharing"}:           {review.SharingShared, review.SharingWithheld},
	{reflect.TypeFor[approveRequest](), "withheld_reason"}:   review.WithheldReasons,
	{reflect.TypeFor[agendaCreateRequest](), "kind"}:         agendaKinds(),
	{reflect.TypeFor[agendaUpdateRequest](), "kind"}:         agendaKinds(),
	{reflect.TypeFor[agendaCloseRequest](), "outcome"}:       agendaOutcomes(),
	{reflect.TypeFor[clientRespondRequest](), "kind"}:        {string(client.ResponseCorrection), string(client.ResponseOwnView)},
	{reflect.TypeFor[closeRequest](), "reason_code"}:         casefile.CloseReasons,
	{reflect.TypeFor[holdRequest](), "reason_code"}:          casefile.HoldReasons,
	{reflect.TypeFor[erasureFileRequest](), "reason_code"}:   casefile.ErasureReasons,
}

type fieldKey struct {
	t    reflect.Type
	name string
}

// ignoredHeaders are read or set by handlers but belong to HTTP itself,
// or to every response (Retry-After of a 503 or 429).
var ignoredHeaders = map[string]bool{"Authorization": true, "Accept": true, "Content-Type": true, "Cache-Control": true,
	"Content-Disposition": true, "Retry-After": true, "Www-Authenticate": true}

func TestOpenAPIConformance(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	src := parseSource(t)
	if len(src.routes) == 0 {
		t.Fatal("found no route in the package's source")
	}

	t.Run("EveryV1RouteIsDocumented", func(t *testing.T) {
		t.Parallel()
		for _, rt := range src.routes {
			if !strings.HasPrefix(rt.path, "/v1/") {
				continue
			}
			if src.funcs[rt.handler] == nil {
				t.Errorf("%s %s: the test cannot follow its handler; register it as s.handleX", rt.method, rt.path)
			}
			if doc.op(rt.method, rt.path) == nil {
				t.Errorf("%s %s is routed but not in openapi.json", rt.method, rt.path)
			}
		}
	})

	t.Run("EveryDocumentedOperationIsRouted", func(t *testing.T) {
		t.Parallel()
		routed := map[string]bool{}
		for _, rt := range src.routes {
			routed[rt.method+" "+rt.path] = true
		}
		h := NewServer().Handler()
		for _, o := range doc.ops() {
			if !routed[o.method+" "+o.path] {
				t.Errorf("%s %s is in openapi.json but not routed", o.method, o.path)
				continue
			}
			if !strings.HasPrefix(o.path, "/v1/") {
				continue
			}
			// A sign-in (security: []) is where a token is got, not shown.
			if sec, ok := o.raw["security"].([]any); ok && len(sec) == 0 {
				continue
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(o.method, fillPath(o.path), nil))
			if w.Code != http.StatusUnauthorized || w.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s %s without a token: %d %s, want 401 problem+json", o.method, o.path, w.Code, w.Header().Get("Content-Type"))
			}
			if ct := o.responseContent("401"); !slices.Contains(ct, "application/problem+json") {
				t.Errorf("%s %s: openapi.json does not document its 401 as problem+json", o.method, o.path)
			}
		}
	})

	t.Run("RequestBodiesMatchTheRequestTypes", func(t *testing.T) {
		t.Parallel()
		for _, rt := range src.routes {
			o := doc.op(rt.method, rt.path)
			if o == nil || rt.handler == "" {
				continue
			}
			fa := src.analyze(rt.handler)
			schema := o.requestSchema(doc)
			switch {
			case len(fa.decodes) > 1:
				t.Errorf("%s %s: %s decodes several bodies (%v)", rt.method, rt.path, rt.handler, fa.decodes)
			case len(fa.decodes) == 0 && o.raw["requestBody"] != nil:
				t.Errorf("%s %s documents a request body, but %s decodes none", rt.method, rt.path, rt.handler)
			case len(fa.decodes) == 1 && schema == nil:
				t.Errorf("%s %s: %s decodes a %s, but openapi.json documents no application/json body", rt.method, rt.path, rt.handler, fa.decodes[0])
			case len(fa.decodes) == 1:
				typ, ok := requestTypes[fa.decodes[0]]
				if !ok {
					t.Errorf("%s %s: %s decodes a %s; add it to requestTypes", rt.method, rt.path, rt.handler, fa.decodes[0])
					continue
				}
				if body, _ := o.raw["requestBody"].(map[string]any); body["required"] != true {
					t.Errorf("%s %s: the request body is required (an empty body is refused)", rt.method, rt.path)
				}
				c := &schemaChecker{doc: doc}
				c.object(rt.method+" "+rt.path, schema, typ)
				for _, p := range c.problems {
					t.Error(p)
				}
			}
		}
	})

	t.Run("ParametersMatchWhatHandlersRead", func(t *testing.T) {
		t.Parallel()
		for _, rt := range src.routes {
			o := doc.op(rt.method, rt.path)
			if o == nil || rt.handler == "" {
				continue
			}
			fa := src.analyze(rt.handler)
			documented := o.params(doc)
			for name := range fa.query {
				if _, ok := documented["query"][name]; !ok {
					t.Errorf("%s %s: %s reads query parameter %q, which openapi.json does not document", rt.method, rt.path, rt.handler, name)
				}
			}
			for name := range documented["query"] {
				if !fa.query[name] {
					t.Errorf("%s %s documents query parameter %q, which %s never reads", rt.method, rt.path, name, rt.handler)
				}
			}
			for name := range fa.header {
				if _, ok := documented["header"][http.CanonicalHeaderKey(name)]; !ok && !ignoredHeaders[http.CanonicalHeaderKey(name)] {
					t.Errorf("%s %s: %s reads header %q, which openapi.json does not document", rt.method, rt.path, rt.handler, name)
				}
			}
			for name := range fa.sets {
				if !ignoredHeaders[name] && !o.documentsResponseHeader(name) {
					t.Errorf("%s %s: %s sets response header %q, which openapi.json does not document", rt.method, rt.path, rt.handler, name)
				}
			}
			if _, ok := documented["header"]["If-Match"]; ok && o.responseContent("412") == nil {
				t.Errorf("%s %s takes If-Match but documents no 412", rt.method, rt.path)
			}
			var wild []string
			for _, m := range regexp.MustCompile(`\{([^}.]+)(\.\.\.)?\}`).FindAllStringSubmatch(rt.path, -1) {
				wild = append(wild, m[1])
			}
			if got := slices.Sorted(maps.Keys(documented["path"])); !slices.Equal(got, slices.Sorted(slices.Values(wild))) {
				t.Errorf("%s %s: path parameters %v documented, the route has %v", rt.method, rt.path, got, wild)
			}
			for name, p := range documented["path"] {
				if p["required"] != true {
					t.Errorf("%s %s: path parameter %q must be required", rt.method, rt.path, name)
				}
			}
		}
	})

	t.Run("ProblemCodesAreDocumented", func(t *testing.T) {
		t.Parallel()
		code, _ := doc.resolve(doc.resolve(map[string]any{"$ref": "#/components/schemas/Problem"})["properties"].(map[string]any)["code"])["enum"].([]any)
		for c := range statuses {
			if !slices.Contains(code, any(c)) {
				t.Errorf("error code %q can be answered but is not in the Problem schema's enum", c)
			}
		}
	})

	t.Run("TheAnalysisSeesWhatHandlersRead", func(t *testing.T) {
		t.Parallel()
		// A blind analysis would find nothing and pass: check it on handlers
		// whose reads are known, through a closure, a helper's parameter and
		// a url.Values parameter.
		for handler, want := range map[string][]string{
			"handleAuditEntries":     {"case", "actor", "action", "since", "until", "after", "limit"},
			"handleInclusionProof":   {"index", "size"},
			"handleConsistencyProof": {"from", "to"},
			"handleQueue":            {"after", "limit", "kind", "case", "status", "overdue", "older_than"},
		} {
			if got := slices.Sorted(maps.Keys(src.analyze(handler).query)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
				t.Errorf("%s reads %v, want %v", handler, got, want)
			}
		}
		if fa := src.analyze("handleDraftCreate"); !fa.header["Idempotency-Key"] || !fa.sets["Location"] || !slices.Equal(fa.decodes, []string{"draftCreateRequest"}) {
			t.Errorf("handleDraftCreate: reads headers %v, sets %v, decodes %v", fa.header, fa.sets, fa.decodes)
		}
	})
}

// TestOpenAPIConformanceCatchesDrift shows that the schema check fails when a
// tag and the document disagree, one way at a time.
func TestOpenAPIConformanceCatchesDrift(t *testing.T) {
	t.Parallel()
	type item struct {
		ID string `json:"id" validate:"required,max=64"`
	}
	type req struct {
		Name  string   `json:"name" validate:"required,max=200"`
		Kind  string   `json:"kind" validate:"omitempty,oneof=a b"`
		Count int      `json:"count" validate:"gte=1,lte=10"`
		IDs   []string `json:"ids" validate:"omitempty,max=5,dive,required,max=64"`
		Items []item   `json:"items" validate:"omitempty,dive"`
	}
	good := `{"type":"object","additionalProperties":false,"required":["name"],"properties":{
		"name":{"type":"string","minLength":1,"maxLength":200},
		"kind":{"type":"string","enum":["a","b"]},
		"count":{"type":"integer","minimum":1,"maximum":10},
		"ids":{"type":"array","maxItems":5,"items":{"type":"string","minLength":1,"maxLength":64}},
		"items":{"type":"array","items":{"type":"object","additionalProperties":false,"required":["id"],"properties":{"id":{"type":"string","minLength":1,"maxLength":64}}}}}}`
	check := func(schema string) []string {
		var s map[string]any
		if err := json.Unmarshal([]byte(schema), &s); err != nil {
			t.Fatal(err)
		}
		c := &schemaChecker{doc: &openapiDoc{}}
		c.object("test", s, reflect.TypeFor[req]())
		return c.problems
	}
	if p := check(good); p != nil {
		t.Fatalf("the matching schema is refused: %v", p)
	}
	for name, drift := range map[string][2]string{
		"MaxLength":            {`"maxLength":200`, `"maxLength":201`},
		"MissingMaxLength":     {`"minLength":1,"maxLength":200`, `"minLength":1`},
		"Required":             {`"required":["name"]`, `"required":[]`},
		"ExtraRequired":        {`"required":["name"]`, `"required":["name","kind"]`},
		"Enum":                 {`"enum":["a","b"]`, `"enum":["a","b","c"]`},
		"Maximum":              {`"maximum":10`, `"maximum":11`},
		"Minimum":              {`"minimum":1,`, ``},
		"MaxItems":             {`"maxItems":5`, `"maxItems":6`},
		"ItemMaxLength":        {`"items":{"type":"string","minLength":1,"maxLength":64}`, `"items":{"type":"string","minLength":1}`},
		"NestedRequired":       {`"required":["id"]`, `"required":[]`},
		"UndocumentedField":    {`"kind":{"type":"string","enum":["a","b"]},`, ``},
		"UnknownField":         {`"properties":{`, `"properties":{"extra":{"type":"string"},`},
		"Type":                 {`"count":{"type":"integer"`, `"count":{"type":"string"`},
		"AdditionalProperties": {`"type":"object","additionalProperties":false,"required":["name"]`, `"type":"object","required":["name"]`},
	} {
		if !strings.Contains(good, drift[0]) {
			t.Fatalf("%s: %q is not in the schema", name, drift[0])
		}
		if p := check(strings.Replace(good, drift[0], drift[1], 1)); p == nil {
			t.Errorf("%s: the drifted schema passes", name)
		}
	}
}

// openapiDoc is the OpenAPI document, as generic JSON.
type openapiDoc struct{ raw map[string]any }

type operation struct {
	method, path string
	raw          map[string]any
	pathItem     map[string]any
}

func loadDoc(t *testing.T) *openapiDoc {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal(OpenAPI(), &raw); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	return &openapiDoc{raw: raw}
}

var httpMethods = []string{"get", "put", "post", "delete", "patch", "head", "options"}

func (d *openapiDoc) ops() []*operation {
	var out []*operation
	paths, _ := d.raw["paths"].(map[string]any)
	for _, p := range slices.Sorted(maps.Keys(paths)) {
		item, _ := paths[p].(map[string]any)
		for _, m := range httpMethods {
			if o, ok := item[m].(map[string]any); ok {
				out = append(out, &operation{method: strings.ToUpper(m), path: p, raw: o, pathItem: item})
			}
		}
	}
	return out
}

func (d *openapiDoc) op(method, path string) *operation {
	for _, o := range d.ops() {
		if o.method == method && o.path == path {
			return o
		}
	}
	return nil
}

// resolve follows a local $ref ("#/components/schemas/Approve").
func (d *openapiDoc) resolve(v any) map[string]any {
	m, _ := v.(map[string]any)
	for i := 0; i < 10 && m != nil; i++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		var cur any = d.raw
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cm, _ := cur.(map[string]any)
			cur = cm[strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")]
		}
		m, _ = cur.(map[string]any)
	}
	return m
}

func (o *operation) requestSchema(d *openapiDoc) map[string]any {
	body := d.resolve(o.raw["requestBody"])
	content, _ := body["content"].(map[string]any)
	mt, _ := content["application/json"].(map[string]any)
	return d.resolve(mt["schema"])
}

// params returns the documented parameters by location and name, the
// path item's and the operation's.
func (o *operation) params(d *openapiDoc) map[string]map[string]map[string]any {
	out := map[string]map[string]map[string]any{"query": {}, "header": {}, "path": {}, "cookie": {}}
	for _, src := range []map[string]any{o.pathItem, o.raw} {
		list, _ := src["parameters"].([]any)
		for _, p := range list {
			pm := d.resolve(p)
			in, _ := pm["in"].(string)
			name, _ := pm["name"].(string)
			if in == "header" {
				name = http.CanonicalHeaderKey(name)
			}
			if out[in] != nil {
				out[in][name] = pm
			}
		}
	}
	return out
}

// documentsResponseHeader reports whether some response documents the header.
func (o *operation) documentsResponseHeader(name string) bool {
	rs, _ := o.raw["responses"].(map[string]any)
	for _, r := range rs {
		rm, _ := r.(map[string]any)
		hs, _ := rm["headers"].(map[string]any)
		for h := range hs {
			if http.CanonicalHeaderKey(h) == name {
				return true
			}
		}
	}
	return false
}

// responseContent returns the media types documented for status, or nil.
func (o *operation) responseContent(status string) []string {
	rs, _ := o.raw["responses"].(map[string]any)
	r, ok := rs[status].(map[string]any)
	if !ok {
		return nil
	}
	content, _ := r["content"].(map[string]any)
	return append([]string{}, slices.Sorted(maps.Keys(content))...)
}

func fillPath(p string) string {
	return regexp.MustCompile(`\{[^}]+\}`).ReplaceAllStringFunc(p, func(string) string { return "1" })
}

// schemaChecker compares schemas with Go request types and collects what
// disagrees.
type schemaChecker struct {
	doc      *openapiDoc
	problems []string
}

func (c *schemaChecker) errorf(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// object checks the schema of a struct type: the decoder refuses unknown
// fields, so additionalProperties must be false, and the properties are
// exactly the type's JSON fields.
func (c *schemaChecker) object(where string, s map[string]any, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if s["type"] != "object" {
		c.errorf("%s: type %v, want object", where, s["type"])
	}
	if s["additionalProperties"] != false {
		c.errorf("%s: additionalProperties must be false: the server refuses unknown fields", where)
	}
	props, _ := s["properties"].(map[string]any)
	var required []string
	for _, r := range asSlice(s["required"]) {
		required = append(required, fmt.Sprint(r))
	}
	seen := map[string]bool{}
	for _, f := range jsonFields(t) {
		seen[f.name] = true
		fwhere := where + " ." + f.name
		ps, ok := props[f.name]
		if !ok {
			c.errorf("%s: the field is accepted but not documented", fwhere)
			continue
		}
		pre, elem := splitRules(f.tag)
		if has(pre, "required") != slices.Contains(required, f.name) {
			c.errorf("%s: validate says required=%v, openapi.json says %v", fwhere, has(pre, "required"), slices.Contains(required, f.name))
		}
		c.value(fwhere, c.doc.resolve(ps), f.typ, pre, elem, domainEnums[fieldKey{t, f.name}])
	}
	for name := range props {
		if !seen[name] {
			c.errorf("%s .%s: documented but not a field of %s (the server refuses it)", where, name, t)
		}
	}
	for _, name := range required {
		if !seen[name] {
			c.errorf("%s: %q is required but not a property", where, name)
		}
	}
}

// constraintKeys are the schema keywords that state what a value may be;
// each must follow from the Go type and its tag.
var constraintKeys = []string{"maxLength", "minLength", "maxItems", "minItems", "maximum", "minimum",
	"exclusiveMaximum", "exclusiveMinimum", "enum", "pattern", "format"}

// value checks the schema of one value against its type and rules (pre
// applies to the value, elem to a slice's elements after "dive").
func (c *schemaChecker) value(where string, s map[string]any, t reflect.Type, pre, elem []string, enum []string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	want := map[string]any{}
	var jsonType string
	switch {
	case t == reflect.TypeFor[time.Time]():
		jsonType, want["format"] = "string", "date-time"
	case t.Kind() == reflect.String:
		jsonType = "string"
	case t.Kind() == reflect.Bool:
		jsonType = "boolean"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		jsonType = "integer"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		jsonType = "number"
	case t.Kind() == reflect.Slice:
		jsonType = "array"
	case t.Kind() == reflect.Struct:
		c.object(where, s, t)
		return
	default:
		c.errorf("%s: the conformance test does not know how %s is encoded", where, t)
		return
	}
	if s["type"] != jsonType {
		c.errorf("%s: type %v, want %s", where, s["type"], jsonType)
	}
	lenKeys := map[string][2]string{"string": {"minLength", "maxLength"}, "array": {"minItems", "maxItems"}, "integer": {"minimum", "maximum"}, "number": {"minimum", "maximum"}}[jsonType]
	for _, r := range pre {
		name, param, _ := strings.Cut(r, "=")
		switch name {
		case "omitempty":
		case "required":
			// A required string must not be empty; a required slice or
			// pointer must only be present (null is refused).
			if jsonType == "string" {
				raiseMin(want, "minLength", 1)
			}
		case "notblank":
			want["pattern"] = `\S`
			raiseMin(want, "minLength", 1)
		case "max", "lte":
			want[lenKeys[1]] = mustFloat(param)
		case "min", "gte":
			want[lenKeys[0]] = mustFloat(param)
		case "len":
			want[lenKeys[0]], want[lenKeys[1]] = mustFloat(param), mustFloat(param)
		case "lt":
			want["exclusiveMaximum"] = mustFloat(param)
		case "gt":
			want["exclusiveMinimum"] = mustFloat(param)
		case "oneof":
			want["enum"] = strings.Fields(param)
		case "email":
			want["format"] = "email"
		default:
			c.errorf("%s: the conformance test does not know validate rule %q; teach it", where, r)
		}
	}
	if has(pre, "omitempty") && (want["minLength"] != nil || want["minItems"] != nil) && !has(pre, "required") {
		c.errorf("%s: omitempty with a minimum cannot be stated as minLength/minItems", where)
	}
	if enum != nil {
		if want["enum"] != nil {
			c.errorf("%s: oneof and a domain list both give the values", where)
		}
		want["enum"] = enum
	}
	// An enum without "" already refuses the empty string.
	if e, ok := want["enum"].([]string); ok && !slices.Contains(e, "") && want["minLength"] == 1.0 {
		delete(want, "minLength")
	}
	for _, k := range constraintKeys {
		got, w := s[k], want[k]
		if k == "enum" && got != nil && w != nil {
			var gs []string
			for _, v := range asSlice(got) {
				gs = append(gs, fmt.Sprint(v))
			}
			if !slices.Equal(slices.Sorted(slices.Values(gs)), slices.Sorted(slices.Values(w.([]string)))) {
				c.errorf("%s: enum %v, the server accepts %v", where, gs, w)
			}
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(w) {
			c.errorf("%s: %s is %v in openapi.json, the server enforces %v", where, k, orNone(got), orNone(w))
		}
	}
	if jsonType == "array" {
		items := c.doc.resolve(s["items"])
		if items == nil {
			c.errorf("%s: an array without items", where)
			return
		}
		epre, eelem := splitRules(strings.Join(elem, ","))
		c.value(where+"[]", items, t.Elem(), epre, eelem, nil)
	} else if len(elem) > 0 {
		c.errorf("%s: dive on a %s", where, t)
	}
}

func raiseMin(want map[string]any, key string, n float64) {
	if cur, ok := want[key].(float64); !ok || cur < n {
		want[key] = n
	}
}

func orNone(v any) any {
	if v == nil {
		return "nothing"
	}
	return v
}

func mustFloat(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		panic(fmt.Sprintf("validate parameter %q is not a number", s))
	}
	return f
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func has(rules []string, name string) bool {
	return slices.ContainsFunc(rules, func(r string) bool { n, _, _ := strings.Cut(r, "="); return n == name })
}

// splitRules splits a validate tag at its first "dive".
func splitRules(tag string) (pre, elem []string) {
	if tag == "" {
		return nil, nil
	}
	rules := strings.Split(tag, ",")
	if i := slices.Index(rules, "dive"); i >= 0 {
		return rules[:i], rules[i+1:]
	}
	return rules, nil
}

type jsonField struct {
	name, tag string
	typ       reflect.Type
}

// jsonFields lists the fields encoding/json decodes into t.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				out = append(out, jsonFields(ft)...)
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, jsonField{name: name, tag: f.Tag.Get("validate"), typ: f.Type})
	}
	return out
}

// source is the package's non-test Go code, for the route table and what
// each handler reads.
type source struct {
	routes []route
	funcs  map[string]*ast.FuncDecl
}

type route struct {
	method, path string
	handler      string // the method of Server serving it, "" if not one
}

var routePattern = regexp.MustCompile(`^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) (/\S*)$`)

func parseSource(t *testing.T) *source {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	src := &source{funcs: map[string]*ast.FuncDecl{}}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, b, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				src.funcs[fd.Name.Name] = fd
			}
		}
		// A route is registered by a call whose first argument is a
		// pattern with a method: mux.Handle("GET /x", …), authed("POST /y", s.h).
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) < 2 {
				return true
			}
			pat, ok := stringLit(call.Args[0])
			if !ok && len(call.Args) >= 3 {
				// s.clientAuthed(mux, "GET /v1/client/x", s.h)
				if pat, ok = stringLit(call.Args[1]); ok {
					call = &ast.CallExpr{Fun: call.Fun, Args: call.Args[1:]}
				}
			}
			if !ok {
				return true
			}
			m := routePattern.FindStringSubmatch(pat)
			if m == nil {
				return true
			}
			rt := route{method: m[1], path: m[2]}
			if sel, ok := call.Args[1].(*ast.SelectorExpr); ok {
				rt.handler = sel.Sel.Name
			}
			src.routes = append(src.routes, rt)
			return true
		})
	}
	return src
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// funcReads is what a handler reads from the request: query parameters,
// headers, and the types of the bodies it decodes.
type funcReads struct {
	query, header map[string]bool
	decodes       []string
	// sets are the response headers it sets.
	sets map[string]bool
}

// analyze follows a handler and the package functions and closures it
// calls, binding string arguments to their parameters, and collects every
// q.Get(name) on r.URL.Query(), r.Header.Get(name) and s.decode(w, r, &v).
func (src *source) analyze(handler string) *funcReads {
	out := &funcReads{query: map[string]bool{}, header: map[string]bool{}, sets: map[string]bool{}}
	if fd := src.funcs[handler]; fd != nil {
		src.walk(out, fd.Type, fd.Body, map[string]string{}, nil, 0)
	}
	return out
}

func (src *source) walk(out *funcReads, ft *ast.FuncType, body *ast.BlockStmt, env map[string]string, outer map[string]bool, depth int) {
	if body == nil || depth > 6 {
		return
	}
	// Names bound to url.Values: parameters of that type, and variables
	// assigned r.URL.Query(), here or, for a closure, around it. Closures
	// assigned to a name are followed where they are called, with their
	// arguments bound.
	values := maps.Clone(outer)
	if values == nil {
		values = map[string]bool{}
	}
	for _, f := range ft.Params.List {
		if sel, ok := f.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Values" {
			for _, n := range f.Names {
				values[n.Name] = true
			}
		}
	}
	closures := map[string]*ast.FuncLit{}
	ast.Inspect(body, func(n ast.Node) bool {
		if as, ok := n.(*ast.AssignStmt); ok && len(as.Lhs) == len(as.Rhs) {
			for i, l := range as.Lhs {
				id, ok := l.(*ast.Ident)
				if !ok {
					continue
				}
				if isURLQuery(as.Rhs[i]) {
					values[id.Name] = true
				}
				if fl, ok := as.Rhs[i].(*ast.FuncLit); ok {
					closures[id.Name] = fl
				}
			}
		}
		return true
	})
	str := func(e ast.Expr) (string, bool) {
		if s, ok := stringLit(e); ok {
			return s, true
		}
		if id, ok := e.(*ast.Ident); ok {
			s, ok := env[id.Name]
			return s, ok
		}
		return "", false
	}
	ast.Inspect(body, func(n ast.Node) bool {
		if fl, ok := n.(*ast.FuncLit); ok && slices.Contains(slices.Collect(maps.Values(closures)), fl) {
			return false // followed at its calls
		}
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		switch fun := call.Fun.(type) {
		case *ast.SelectorExpr:
			switch {
			case fun.Sel.Name == "Get" && len(call.Args) == 1 && (isURLQuery(fun.X) || isIdentIn(fun.X, values)):
				if name, ok := str(call.Args[0]); ok {
					out.query[name] = true
				}
			case fun.Sel.Name == "Get" && len(call.Args) == 1 && isSelector(fun.X, "Header"):
				if name, ok := str(call.Args[0]); ok {
					out.header[http.CanonicalHeaderKey(name)] = true
				}
			case (fun.Sel.Name == "Set" || fun.Sel.Name == "Add") && len(call.Args) == 2 && isHeaderCall(fun.X):
				if name, ok := str(call.Args[0]); ok {
					out.sets[http.CanonicalHeaderKey(name)] = true
				}
			case fun.Sel.Name == "decode" && len(call.Args) == 3:
				if u, ok := call.Args[2].(*ast.UnaryExpr); ok {
					if id, ok := u.X.(*ast.Ident); ok {
						out.decodes = append(out.decodes, varType(body, id.Name))
					}
				}
			default:
				// s.helper(…): a method of the package.
				if fd := src.funcs[fun.Sel.Name]; fd != nil && fd.Recv != nil {
					if _, ok := fun.X.(*ast.Ident); ok {
						src.walk(out, fd.Type, fd.Body, bind(fd.Type, call.Args, str), nil, depth+1)
					}
				}
			}
		case *ast.Ident:
			if fl := closures[fun.Name]; fl != nil {
				src.walk(out, fl.Type, fl.Body, bind(fl.Type, call.Args, str), values, depth+1)
			} else if fd := src.funcs[fun.Name]; fd != nil && fd.Recv == nil {
				src.walk(out, fd.Type, fd.Body, bind(fd.Type, call.Args, str), nil, depth+1)
			}
		}
		return true
	})
}

// bind maps a function's parameter names to the string values of the
// arguments known at the call.
func bind(ft *ast.FuncType, args []ast.Expr, str func(ast.Expr) (string, bool)) map[string]string {
	env := map[string]string{}
	i := 0
	for _, f := range ft.Params.List {
		names := f.Names
		if len(names) == 0 {
			i++
			continue
		}
		for _, n := range names {
			if i < len(args) {
				if s, ok := str(args[i]); ok {
					env[n.Name] = s
				}
			}
			i++
		}
	}
	return env
}

// isHeaderCall reports whether e is w.Header().
func isHeaderCall(e ast.Expr) bool {
	call, ok := e.(*ast.CallExpr)
	return ok && len(call.Args) == 0 && isSelector(call.Fun, "Header")
}

// isURLQuery reports whether e is x.URL.Query().
func isURLQuery(e ast.Expr) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "Query" && isSelector(sel.X, "URL")
}

func isSelector(e ast.Expr, name string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == name
}

func isIdentIn(e ast.Expr, names map[string]bool) bool {
	id, ok := e.(*ast.Ident)
	return ok && names[id.Name]
}

// varType returns the type name of "var name T" in body, or "?".
func varType(body *ast.BlockStmt, name string) string {
	typ := "?"
	ast.Inspect(body, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || vs.Type == nil {
			return true
		}
		for _, id := range vs.Names {
			if id.Name == name {
				if tid, ok := vs.Type.(*ast.Ident); ok {
					typ = tid.Name
				}
			}
		}
		return true
	})
	return typ
}
