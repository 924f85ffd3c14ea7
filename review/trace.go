package review

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracer names the drafting workers in traces; the global provider is a
// no-op until the service configures an exporter (internal/tracing).
var tracer = otel.Tracer("github.com/countersign/countersign/review")

// traceJob starts the span of one drafting job: the draft's and case's ids,
// the kind of draft and the attempt, never the notes or the draft's text.
// The span is a root: the request that queued the draft has long answered.
func traceJob(ctx context.Context, job *Job) (context.Context, trace.Span) {
	return tracer.Start(ctx, "draft.job", trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("countersign.draft.id", job.DraftID), attribute.String("countersign.case.id", job.CaseID),
			attribute.String("countersign.draft.kind", string(job.Request.Kind)), attribute.Int("countersign.draft.attempt", job.Attempt)))
}

// endJob ends a job's span with its outcome: "completed", "failed",
// "released" (shutdown) or "lease_lost".
func endJob(span trace.Span, outcome string) {
	span.SetAttributes(attribute.String("countersign.draft.outcome", outcome))
	if outcome == "failed" {
		span.SetStatus(codes.Error, outcome)
	}
	span.End()
}
