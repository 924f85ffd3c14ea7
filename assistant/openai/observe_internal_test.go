package openai

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/internal/metrics"
)

// TestErrorKind names each way a model call fails by the label the metrics
// and the traces carry.
func TestErrorKind(t *testing.T) {
	t.Parallel()
	live := context.Background()
	done, cancel := context.WithCancel(live)
	cancel()
	for _, tc := range []struct {
		ctx  context.Context
		err  error
		want string
	}{
		{live, &assistant.ModelError{Err: errBreakerOpen}, metrics.KindBreakerOpen},
		{live, failure{kind: metrics.KindRateLimited}.modelError(3, errors.New("429")), metrics.KindRateLimited},
		{live, failure{kind: metrics.KindTimeout}.modelError(1, context.DeadlineExceeded), metrics.KindTimeout},
		{done, &assistant.ModelError{Err: context.Canceled}, metrics.KindCancelled},
		{live, &assistant.ModelError{Err: assistant.ErrCutOff}, metrics.KindOutputSchema},
		{live, fmt.Errorf("decode: %w", &assistant.OutputError{Reason: "not JSON"}), metrics.KindOutputSchema},
		{live, errors.New("something else"), metrics.KindRejected},
	} {
		if got := errorKind(tc.ctx, tc.err); got != tc.want {
			t.Errorf("%v: kind %q, want %q", tc.err, got, tc.want)
		}
	}
	// The kind rides along without changing the error's text.
	err := failure{kind: metrics.KindServer, reason: "The model service failed (HTTP 503)."}.modelError(2, errors.New("503"))
	if err.Error() != "openai.generate: The model service failed (HTTP 503).: after 2 attempt(s): 503" {
		t.Errorf("text %q", err.Error())
	}
}
