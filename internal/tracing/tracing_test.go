package tracing

import (
	"context"
	"slices"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestRedact: only allowed keys leave, events are dropped, and a prefix
// of the allow-list matches whole segments only.
func TestRedact(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	var dropped []string
	p := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(Redact(sdktrace.NewSimpleSpanProcessor(exp), func(k attribute.Key) { dropped = append(dropped, string(k)) })))
	_, span := p.Tracer("test").Start(context.Background(), "GET /v1/cases/{id}")
	span.SetAttributes(attribute.String("http.route", "GET /v1/cases/{id}"), attribute.String("url.path", "/ical/secret-token.ics"),
		attribute.String("client.address", "203.0.113.9"), attribute.String("countersign.draft.id", "drf_1"), attribute.String("countersign.drafty", "x"))
	span.AddEvent("read", trace.WithAttributes(attribute.String("body", "case text")))
	span.End()
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	var kept []string
	for _, kv := range spans[0].Attributes {
		kept = append(kept, string(kv.Key))
	}
	slices.Sort(kept)
	slices.Sort(dropped)
	if !slices.Equal(kept, []string{"countersign.draft.id", "http.route"}) || !slices.Equal(dropped, []string{"client.address", "countersign.drafty", "url.path"}) {
		t.Fatalf("kept %v, dropped %v", kept, dropped)
	}
	if len(spans[0].Events) != 0 || spans[0].DroppedAttributes != 3 {
		t.Fatalf("events %v, dropped count %d", spans[0].Events, spans[0].DroppedAttributes)
	}
}
