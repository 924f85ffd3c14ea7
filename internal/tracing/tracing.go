// Package tracing sets up OpenTelemetry tracing for the service: the HTTP
// handlers (otelhttp), the store's write transactions, the drafting jobs
// and the model calls each make spans, which are exported over OTLP/HTTP
// when an endpoint is configured (--otlp-endpoint) and dropped otherwise.
//
// Spans leave the service only through Redact, which keeps the attributes
// on the allow-list (Allowed): methods, route patterns, status codes, ids,
// counts and error codes. Everything else an instrumentation library adds
// on its own, such as the client's address, the user agent or the raw path
// (which may hold a calendar feed's secret token), is dropped before export.
// No instrumentation here records case text, names or query strings.
package tracing

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// Allowed is the allow-list of span attribute keys: a key is allowed when
// it is listed, or when it starts with a listed prefix ending in ".".
var Allowed = []string{
	// HTTP server spans (otelhttp), without the client's address, the user
	// agent, the path or the Host asked for: the route pattern says what
	// was asked, the resource which service answered.
	"http.request.method", "http.request.method_original", "http.route", "http.response.status_code",
	"http.request.body.size", "http.response.body.size", "url.scheme",
	"network.protocol.name", "network.protocol.version",
	// Store transactions (sqlstore/trace.go).
	"db.system.name", "code.function.name",
	// Model calls (assistant/openai/observe.go): the model, the provider
	// and the token counts.
	"gen_ai.request.model", "gen_ai.system", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
	// Drafting jobs (review/trace.go): ids, the kind, the attempt, the outcome.
	"countersign.draft.",
	"countersign.case.id",
	"error.type",
}

// IsAllowed reports whether key is on the allow-list.
func IsAllowed(key attribute.Key) bool {
	k := string(key)
	for _, a := range Allowed {
		if k == a || (strings.HasSuffix(a, ".") && strings.HasPrefix(k, a)) {
			return true
		}
	}
	return false
}

// Redact wraps a span processor: each ended span reaches next with only its
// allowed attributes, and without events or links, whose attributes no
// allow-list covers. Dropped, if set, is told each key dropped.
func Redact(next sdktrace.SpanProcessor, dropped func(attribute.Key)) sdktrace.SpanProcessor {
	return &redactor{SpanProcessor: next, dropped: dropped}
}

type redactor struct {
	sdktrace.SpanProcessor
	dropped func(attribute.Key)
}

func (r *redactor) OnEnd(s sdktrace.ReadOnlySpan) {
	var kept []attribute.KeyValue
	for _, kv := range s.Attributes() {
		if IsAllowed(kv.Key) {
			kept = append(kept, kv)
		} else if r.dropped != nil {
			r.dropped(kv.Key)
		}
	}
	r.SpanProcessor.OnEnd(&redacted{ReadOnlySpan: s, attrs: kept})
}

// redacted is a span as exported: the original, less what Redact dropped.
type redacted struct {
	sdktrace.ReadOnlySpan
	attrs []attribute.KeyValue
}

func (r *redacted) Attributes() []attribute.KeyValue { return r.attrs }
func (r *redacted) Events() []sdktrace.Event         { return nil }
func (r *redacted) Links() []sdktrace.Link           { return nil }
func (r *redacted) DroppedAttributes() int {
	return r.ReadOnlySpan.DroppedAttributes() + len(r.ReadOnlySpan.Attributes()) - len(r.attrs)
}

// NewProvider returns a tracer provider that sends every span, redacted,
// to exp in batches (or at once with sync, for tests).
func NewProvider(exp sdktrace.SpanExporter, version string, sync bool) *sdktrace.TracerProvider {
	var p sdktrace.SpanProcessor
	if sync {
		p = sdktrace.NewSimpleSpanProcessor(exp)
	} else {
		p = sdktrace.NewBatchSpanProcessor(exp)
	}
	res := resource.NewSchemaless(semconv.ServiceName("countersign"), semconv.ServiceVersion(version))
	return sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(Redact(p, nil)), sdktrace.WithResource(res))
}

var installMu sync.Mutex

// Install makes p the global tracer provider, which every instrumented
// package reads, with W3C trace context propagation, and returns the
// function that flushes p's spans and puts back the provider it replaced.
func Install(p *sdktrace.TracerProvider) (restore func(context.Context) error) {
	installMu.Lock()
	defer installMu.Unlock()
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(p)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return func(ctx context.Context) error {
		installMu.Lock()
		otel.SetTracerProvider(prev)
		installMu.Unlock()
		return p.Shutdown(ctx)
	}
}

// Setup exports traces to the OTLP/HTTP endpoint (a URL such as
// http://otel-collector:4318), or does nothing when endpoint is empty. The
// returned function flushes and stops the exporter.
func Setup(ctx context.Context, endpoint, version string) (shutdown func(context.Context) error, err error) {
	if endpoint == "" {
		return func(context.Context) error { return nil }, nil
	}
	if u, err := url.Parse(endpoint); err == nil && (u.Path == "" || u.Path == "/") {
		endpoint = strings.TrimSuffix(endpoint, "/") + "/v1/traces" // the collector's traces path
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("the OTLP endpoint %q is refused: %w", endpoint, err)
	}
	return Install(NewProvider(exp, version, false)), nil
}

// Handler wraps h, the service's mux, in an HTTP server span per request,
// named by its route pattern ("POST /v1/drafts/{id}/approve"), continuing
// a trace the caller propagated. otelhttp hands the mux a copy of the
// request, on which the mux records the pattern; Handler copies it back to
// the request it was given, so that middleware around it (the metrics per
// route) still sees it.
func Handler(h http.Handler) http.Handler {
	inner := otelhttp.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if outer, ok := r.Context().Value(outerKey{}).(*http.Request); ok {
			outer.Pattern = r.Pattern
		}
	}), "http.request", otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
		if r.Pattern == "" {
			return r.Method
		}
		return r.Pattern
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), outerKey{}, r)))
	})
}

type outerKey struct{}
