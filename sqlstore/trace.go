package sqlstore

import (
	"context"
	"runtime"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/countersign/countersign"
)

// tracer names the store in traces; the global provider is a no-op until
// the service configures an exporter (internal/tracing).
var tracer = otel.Tracer("github.com/countersign/countersign/sqlstore")

// traceTx starts the span of one write transaction, named for the store
// method that asked for it, and returns the function that ends it. The
// span holds the dialect, the method and, on failure, the error code:
// never a query's arguments.
func (db *conn) traceTx(ctx context.Context) (context.Context, func(error)) {
	ctx, span := tracer.Start(ctx, "sqlstore.tx", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", db.dialect.name())))
	if !span.IsRecording() {
		return ctx, func(error) {}
	}
	// Two frames up: withTx, then the store method.
	if pc, _, _, ok := runtime.Caller(2); ok {
		if f := runtime.FuncForPC(pc); f != nil {
			name := f.Name()
			name = name[strings.LastIndex(name, "/")+1:]
			span.SetAttributes(attribute.String("code.function.name", name))
		}
	}
	return ctx, func(err error) {
		if err != nil {
			code := countersign.ErrorCode(err)
			span.SetAttributes(attribute.String("error.type", code))
			span.SetStatus(codes.Error, code)
		}
		span.End()
	}
}
