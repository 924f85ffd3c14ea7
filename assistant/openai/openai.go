// Package openai implements assistant.Model over any OpenAI-compatible chat
// completions endpoint — OpenAI, Azure OpenAI, or a model served on the
// premises by vLLM, Ollama or llama.cpp — with github.com/sashabaranov/go-openai.
//
// It asks for structured output (response_format json_schema, strict) and
// falls back to JSON mode for servers that reject it; retries timeouts, rate
// limits (honouring Retry-After), server errors and dropped connections with
// exponential backoff and jitter; and stops calling a failing endpoint for a
// while (a circuit breaker) so that readiness checks can report it.
package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/internal/metrics"
)

// op labels every error of this package in logs.
const op = "openai.generate"

// Defaults of Config.
const (
	DefaultTimeout          = 120 * time.Second
	DefaultMaxRetries       = 3
	DefaultBackoffBase      = 500 * time.Millisecond
	DefaultBackoffMax       = 20 * time.Second
	DefaultMaxRetryAfter    = 60 * time.Second
	DefaultBreakerThreshold = 5
	DefaultBreakerCooldown  = 30 * time.Second
	DefaultAzureAPIVersion  = "2024-10-21" // the first GA version with structured outputs
)

// AzureConfig selects Azure OpenAI: requests go to
// {BaseURL}/openai/deployments/{Deployment}/chat/completions?api-version={APIVersion}.
type AzureConfig struct {
	APIVersion string
	Deployment string
}

// Config configures a Client. Only Model is required; the zero values of the
// other fields mean their defaults.
type Config struct {
	BaseURL string // e.g. https://api.openai.com/v1 or http://vllm:8000/v1
	APIKey  string
	Model   string
	// OnPremises marks an endpoint under the operator's control, which may
	// receive case notes that are not pseudonymised.
	OnPremises bool
	Azure      AzureConfig // used when Azure.Deployment is set

	Timeout       time.Duration // per attempt
	MaxRetries    int           // retries after the first attempt; negative means none
	BackoffBase   time.Duration
	BackoffMax    time.Duration
	MaxRetryAfter time.Duration // a longer Retry-After ends the call instead of blocking a worker

	BreakerThreshold int           // consecutive failed calls that open the breaker
	BreakerCooldown  time.Duration // how long an open breaker fails fast

	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Client is an assistant.Model backed by an OpenAI-compatible endpoint. It is
// safe for concurrent use.
type Client struct {
	cfg     Config
	api     *goopenai.Client
	log     *slog.Logger
	breaker *breaker
	// jsonMode is set once the server has rejected json_schema output: from
	// then on every request uses json_object mode, without a wasted call.
	jsonMode atomic.Bool
	sleep    func(ctx context.Context, d time.Duration) error
}

var _ assistant.Model = (*Client)(nil)

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.Model == "" && cfg.Azure.Deployment == "" {
		return nil, fmt.Errorf("openai: a model name is required")
	}
	if cfg.Model == "" {
		cfg.Model = cfg.Azure.Deployment
	}
	setDefault(&cfg.Timeout, DefaultTimeout)
	setDefault(&cfg.BackoffBase, DefaultBackoffBase)
	setDefault(&cfg.BackoffMax, DefaultBackoffMax)
	setDefault(&cfg.MaxRetryAfter, DefaultMaxRetryAfter)
	setDefault(&cfg.BreakerCooldown, DefaultBreakerCooldown)
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = DefaultMaxRetries
	} else if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.BreakerThreshold == 0 {
		cfg.BreakerThreshold = DefaultBreakerThreshold
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}

	var gc goopenai.ClientConfig
	if cfg.Azure.Deployment != "" {
		if cfg.BaseURL == "" {
			return nil, fmt.Errorf("openai: Azure needs the resource's base URL")
		}
		gc = goopenai.DefaultAzureConfig(cfg.APIKey, cfg.BaseURL)
		gc.APIVersion = cfg.Azure.APIVersion
		if gc.APIVersion == "" {
			gc.APIVersion = DefaultAzureAPIVersion
		}
		deployment := cfg.Azure.Deployment
		gc.AzureModelMapperFunc = func(string) string { return deployment }
	} else {
		gc = goopenai.DefaultConfig(cfg.APIKey)
		if cfg.BaseURL != "" {
			gc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
		}
	}
	gc.HTTPClient = recorder{hc}

	return &Client{
		cfg:     cfg,
		api:     goopenai.NewClientWithConfig(gc),
		log:     cfg.Logger.With("op", op, "model", cfg.Model),
		breaker: &breaker{threshold: cfg.BreakerThreshold, cooldown: cfg.BreakerCooldown, now: time.Now},
		sleep:   sleepCtx,
	}, nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d <= 0 {
		*d = v
	}
}

// Name returns the configured model name.
func (c *Client) Name() string { return c.cfg.Model }

// Provider returns "azure-openai", "openai" for OpenAI's own API, or
// "openai-compatible" for any other endpoint.
func (c *Client) Provider() string {
	switch {
	case c.cfg.Azure.Deployment != "":
		return "azure-openai"
	case c.cfg.BaseURL == "" || strings.Contains(c.cfg.BaseURL, "api.openai.com"):
		return "openai"
	}
	return "openai-compatible"
}

// OnPremises reports the configured OnPremises flag.
func (c *Client) OnPremises() bool { return c.cfg.OnPremises }

// Healthy reports whether the circuit breaker is closed: false means recent
// calls kept failing and calls fail fast until the cool-down ends, which
// /readyz reports as "model degraded".
func (c *Client) Healthy() bool { return c.breaker.closed() }

// JSONMode reports whether the client has fallen back to json_object output
// because the server rejected json_schema.
func (c *Client) JSONMode() bool { return c.jsonMode.Load() }

// Generate sends p as a chat completion and returns the model's answer.
// Failures are *assistant.ModelError values with a readable Reason.
func (c *Client) Generate(ctx context.Context, p *assistant.Prompt) (comp *assistant.Completion, err error) {
	ctx, end := c.observe(ctx)
	defer func() { end(comp, err) }()
	if !c.breaker.allow() {
		return nil, &assistant.ModelError{
			Op:        op,
			Reason:    "The model service is degraded after repeated failures; the draft can be retried shortly.",
			Temporary: true,
			Err:       errBreakerOpen,
		}
	}
	comp, err = c.generate(ctx, p)
	var me *assistant.ModelError
	switch {
	case err == nil:
		c.breaker.record(true)
	case errors.As(err, &me) && me.Temporary && ctx.Err() == nil:
		if c.breaker.record(false) {
			c.log.Warn("model circuit breaker opened", "cooldown", c.cfg.BreakerCooldown)
		}
	default:
		// Our own mistakes (a bad request) and cancellations say nothing
		// about the endpoint's health.
		c.breaker.release()
	}
	return comp, err
}

var errBreakerOpen = errors.New("circuit breaker open")

func (c *Client) generate(ctx context.Context, p *assistant.Prompt) (*assistant.Completion, error) {
	fellBack := false
	for attempt := 0; ; attempt++ {
		jsonMode := c.jsonMode.Load()
		req := c.request(p, jsonMode)
		ex := &exchange{}
		actx, cancel := context.WithTimeout(context.WithValue(ctx, exchangeKey{}, ex), c.cfg.Timeout)
		resp, err := c.api.CreateChatCompletion(actx, req)
		cancel()
		if err == nil {
			return c.completion(resp, ex, jsonMode)
		}
		if ctx.Err() != nil {
			return nil, &assistant.ModelError{Op: op, Reason: "The draft was cancelled before the model answered.", Err: ctx.Err()}
		}
		f := classify(err, ex)
		if f.schemaRejected && !jsonMode && !fellBack {
			// The server does not do structured outputs (older vLLM, Ollama,
			// llama.cpp): use JSON mode from now on; our own validation still
			// holds the answer to the schema.
			fellBack = true
			c.jsonMode.Store(true)
			c.log.Warn("server rejected json_schema output; falling back to json_object", "err", err)
			attempt--
			continue
		}
		if !f.temporary || attempt >= c.cfg.MaxRetries {
			return nil, f.modelError(attempt+1, err)
		}
		delay := c.backoff(attempt)
		if f.retryAfter > 0 {
			if f.retryAfter > c.cfg.MaxRetryAfter {
				return nil, f.modelError(attempt+1, err)
			}
			delay = f.retryAfter
		}
		c.log.Info("model call failed; retrying", "attempt", attempt+1, "delay", delay, "err", err)
		metrics.ModelRetries.WithLabelValues(f.kind).Inc()
		if err := c.sleep(ctx, delay); err != nil {
			return nil, &assistant.ModelError{Op: op, Reason: "The draft was cancelled before the model answered.", Err: err}
		}
	}
}

// reasoningModel reports OpenAI reasoning models, which take
// max_completion_tokens and no temperature.
func reasoningModel(name string) bool {
	for _, p := range []string{"o1", "o3", "o4", "gpt-5", "gpt-6"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func (c *Client) request(p *assistant.Prompt, jsonMode bool) goopenai.ChatCompletionRequest {
	system := p.System
	var rf *goopenai.ChatCompletionResponseFormat
	if jsonMode {
		// JSON mode does not carry the schema, so the model reads it instead.
		system += "\n\nThe JSON schema of the answer:\n" + string(p.Schema)
		rf = &goopenai.ChatCompletionResponseFormat{Type: goopenai.ChatCompletionResponseFormatTypeJSONObject}
	} else {
		rf = &goopenai.ChatCompletionResponseFormat{
			Type: goopenai.ChatCompletionResponseFormatTypeJSONSchema,
			JSONSchema: &goopenai.ChatCompletionResponseFormatJSONSchema{
				Name:   p.SchemaName,
				Schema: p.Schema,
				Strict: true,
			},
		}
	}
	req := goopenai.ChatCompletionRequest{
		Model: c.cfg.Model,
		Messages: []goopenai.ChatCompletionMessage{
			{Role: goopenai.ChatMessageRoleSystem, Content: system},
			{Role: goopenai.ChatMessageRoleUser, Content: p.User},
		},
		ResponseFormat: rf,
	}
	if reasoningModel(c.cfg.Model) {
		req.MaxCompletionTokens = p.Params.MaxTokens
	} else {
		req.MaxTokens = p.Params.MaxTokens
		req.Temperature = float32(p.Params.Temperature)
	}
	if p.Params.Seed != 0 {
		seed := p.Params.Seed
		req.Seed = &seed
	}
	return req
}

func (c *Client) completion(resp goopenai.ChatCompletionResponse, ex *exchange, jsonMode bool) (*assistant.Completion, error) {
	if len(resp.Choices) == 0 {
		return nil, &assistant.ModelError{Op: op, Reason: "The model service sent an answer without content.", Temporary: true,
			Err: errors.New("no choices in response")}
	}
	ch := resp.Choices[0]
	mode := "json_schema"
	if jsonMode {
		mode = "json_object"
	}
	comp := &assistant.Completion{
		Text:             ch.Message.Content,
		PromptTokens:     resp.Usage.PromptTokens,
		CompletionTokens: resp.Usage.CompletionTokens,
		FinishReason:     string(ch.FinishReason),
		RequestBody:      ex.request,
		ResponseBody:     ex.response,
		Params:           map[string]string{"response_format": mode},
	}
	if reasoningModel(c.cfg.Model) {
		comp.Params["temperature"] = "model default"
	}
	switch {
	case ch.FinishReason == goopenai.FinishReasonLength:
		return comp, &assistant.ModelError{Op: op, Reason: "The model's answer was cut off.", Err: assistant.ErrCutOff}
	case ch.FinishReason == goopenai.FinishReasonContentFilter:
		return comp, &assistant.ModelError{Op: op, Reason: "The model service's content filter stopped the answer.", Err: errors.New("finish_reason content_filter")}
	case ch.Message.Refusal != "":
		return comp, &assistant.ModelError{Op: op, Reason: "The model declined to draft from these notes.", Err: errors.New("refusal")}
	}
	return comp, nil
}

// failure is a classified failed attempt.
type failure struct {
	status         int
	temporary      bool
	schemaRejected bool
	retryAfter     time.Duration
	reason         string
	// kind is the failure's metrics.Kind* label.
	kind string
}

func (f failure) modelError(attempts int, err error) *assistant.ModelError {
	return &assistant.ModelError{
		Op:         op,
		Reason:     f.reason,
		Temporary:  f.temporary,
		RetryAfter: f.retryAfter,
		Err:        &kindError{kind: f.kind, err: fmt.Errorf("after %d attempt(s): %w", attempts, err)},
	}
}

// classify decides whether a failed attempt is worth repeating, from the
// HTTP status (read from go-openai's error types or, failing that, from the
// exchange the transport recorded) and the transport error.
func classify(err error, ex *exchange) failure {
	var apiErr *goopenai.APIError
	var reqErr *goopenai.RequestError
	f := failure{status: ex.status}
	switch {
	case errors.As(err, &apiErr):
		f.status = apiErr.HTTPStatusCode
	case errors.As(err, &reqErr):
		f.status = reqErr.HTTPStatusCode
	}
	body := strings.ToLower(string(ex.response))
	switch {
	case f.status == http.StatusTooManyRequests:
		f.temporary = true
		f.retryAfter = retryAfter(ex.header)
		f.reason, f.kind = "The model service is busy (rate limited); the draft can be retried later.", metrics.KindRateLimited
	case f.status >= 500 || f.status == http.StatusRequestTimeout || f.status == http.StatusConflict:
		f.temporary = true
		f.retryAfter = retryAfter(ex.header)
		f.reason, f.kind = fmt.Sprintf("The model service failed (HTTP %d).", f.status), metrics.KindServer
	case f.status == http.StatusBadRequest && (strings.Contains(body, "response_format") || strings.Contains(body, "json_schema") ||
		strings.Contains(body, "structured output") || strings.Contains(body, "not supported") || strings.Contains(body, "unsupported")):
		f.schemaRejected = true
		f.reason, f.kind = "The model service rejected the request (HTTP 400).", metrics.KindRejected
	case f.status == http.StatusUnauthorized || f.status == http.StatusForbidden:
		f.reason, f.kind = "The model service refused our credentials; an administrator must check the API key.", metrics.KindCredentials
	case f.status == http.StatusNotFound:
		f.reason, f.kind = "The model service does not know the configured model or deployment.", metrics.KindNotFound
	case f.status >= 400:
		f.reason, f.kind = fmt.Sprintf("The model service rejected the request (HTTP %d).", f.status), metrics.KindRejected
	case f.status >= 200 && f.status < 300:
		// The status line came through but the body did not decode: a
		// garbled or cut transfer, worth another try.
		f.temporary = true
		f.reason, f.kind = "The model service sent an unreadable answer.", metrics.KindUnreadable
	case isTimeout(err):
		f.temporary = true
		f.reason, f.kind = "The model service did not answer in time.", metrics.KindTimeout
	default:
		// No status at all: refused or dropped connection, DNS, TLS.
		f.temporary = true
		f.reason, f.kind = "The connection to the model service failed.", metrics.KindConnection
	}
	return f
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// retryAfter reads how long the server asked us to wait: OpenAI's
// retry-after-ms when present (finer), else Retry-After in seconds or as an
// HTTP date. It returns 0 when the server said nothing usable.
func retryAfter(h http.Header) time.Duration {
	if h == nil {
		return 0
	}
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// backoff returns the wait before retry number attempt+1: exponential, with
// jitter so that many workers failing together do not retry together.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.cfg.BackoffBase << min(attempt, 20)
	if d <= 0 || d > c.cfg.BackoffMax {
		d = c.cfg.BackoffMax
	}
	return d/2 + rand.N(d/2+1)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// exchange records one HTTP exchange: the bytes actually sent and received
// (hashed into the draft's provenance) and the status and headers, which
// go-openai does not expose on errors (Retry-After lives there).
type exchange struct {
	request, response []byte
	status            int
	header            http.Header
}

type exchangeKey struct{}

// recorder is the go-openai HTTP client; it fills the exchange carried by
// the request's context. Reading the whole body here also turns a connection
// dropped mid-answer into a transport error, which is retried.
type recorder struct{ hc *http.Client }

// maxBody bounds what we read from the model service.
const maxBody = 16 << 20

// Do sends req and records the exchange.
func (r recorder) Do(req *http.Request) (*http.Response, error) {
	ex, _ := req.Context().Value(exchangeKey{}).(*exchange)
	if ex == nil {
		ex = &exchange{}
	}
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		ex.request = b
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	ex.status, ex.header = resp.StatusCode, resp.Header.Clone()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("read response body: %w", err)
	}
	ex.response = b
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// Compile-time check that json.RawMessage satisfies go-openai's schema field.
var _ json.Marshaler = json.RawMessage(nil)
