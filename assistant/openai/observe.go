package openai

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/internal/metrics"
)

// tracer names this package in traces; the global provider is a no-op until
// the service configures an exporter (internal/tracing).
var tracer = otel.Tracer("github.com/countersign/countersign/assistant/openai")

// kindError carries a failure's metrics kind through the ModelError chain;
// its text is the wrapped error's.
type kindError struct {
	kind string
	err  error
}

func (e *kindError) Error() string { return e.err.Error() }
func (e *kindError) Unwrap() error { return e.err }

// errorKind names a failed call's kind for metrics and traces.
func errorKind(ctx context.Context, err error) string {
	var k *kindError
	var oe *assistant.OutputError
	switch {
	case errors.Is(err, errBreakerOpen):
		return metrics.KindBreakerOpen
	case errors.As(err, &k) && k.kind != "":
		return k.kind
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return metrics.KindCancelled
	case errors.Is(err, assistant.ErrCutOff) || errors.As(err, &oe):
		return metrics.KindOutputSchema
	}
	return metrics.KindRejected
}

// observe starts the model call's span and returns the function that ends
// it and records the call's metrics. The span carries the model's name, the
// provider, the token counts and the error kind: never the prompt or the
// answer.
func (c *Client) observe(ctx context.Context) (context.Context, func(*assistant.Completion, error)) {
	start := time.Now()
	ctx, span := tracer.Start(ctx, "model.generate", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("gen_ai.request.model", c.cfg.Model), attribute.String("gen_ai.system", c.Provider())))
	return ctx, func(comp *assistant.Completion, err error) {
		if comp != nil {
			metrics.ModelTokens.WithLabelValues("in").Add(float64(comp.PromptTokens))
			metrics.ModelTokens.WithLabelValues("out").Add(float64(comp.CompletionTokens))
			span.SetAttributes(attribute.Int("gen_ai.usage.input_tokens", comp.PromptTokens),
				attribute.Int("gen_ai.usage.output_tokens", comp.CompletionTokens))
		}
		outcome := metrics.OutcomeOK
		if err != nil {
			outcome = metrics.OutcomeError
			kind := errorKind(ctx, err)
			metrics.ModelErrors.WithLabelValues(kind).Inc()
			span.SetAttributes(attribute.String("error.type", kind))
			span.SetStatus(codes.Error, kind)
		}
		metrics.ModelCallSeconds.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
		span.End()
	}
}
