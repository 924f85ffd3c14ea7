package openai

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/assistant/openai/fakeopenai"
)

type testBundle struct {
	server *fakeopenai.Server
	client *Client
	prompt *assistant.Prompt
}

func setup(t *testing.T, cfg Config) *testBundle {
	t.Helper()
	srv := fakeopenai.New()
	t.Cleanup(srv.Close)
	cfg.BaseURL = srv.BaseURL()
	cfg.Model = "gpt-4o-mini"
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if cfg.BackoffBase == 0 {
		cfg.BackoffBase, cfg.BackoffMax = time.Millisecond, 2*time.Millisecond
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := assistant.RenderPrompt(assistant.KindSummary, "en",
		[]assistant.Note{{ID: "n1", Body: "She fears eviction. She must call the office."}}, nil, time.Now(), assistant.DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	return &testBundle{server: srv, client: c, prompt: p}
}

func TestGenerate(t *testing.T) {
	t.Parallel()

	t.Run("SendsStrictStructuredOutputRequest", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{APIKey: "sk-1"})
		comp, err := b.client.Generate(context.Background(), b.prompt)
		if err != nil {
			t.Fatal(err)
		}
		r := b.server.Requests()[0]
		body := string(r.Body)
		for _, want := range []string{`"type":"json_schema"`, `"strict":true`, `"name":"countersign_summary"`, `"temperature":0.2`, `"max_tokens":4096`} {
			if !strings.Contains(body, want) {
				t.Errorf("request lacks %s", want)
			}
		}
		if r.Header.Get("Authorization") != "Bearer sk-1" || r.Path != "/v1/chat/completions" {
			t.Fatalf("auth = %q path = %q", r.Header.Get("Authorization"), r.Path)
		}
		if string(comp.RequestBody) != body || len(comp.ResponseBody) == 0 || comp.FinishReason != "stop" || comp.PromptTokens == 0 {
			t.Fatalf("completion = %+v", comp)
		}
		if _, err := assistant.ParseContent(assistant.KindSummary, comp.Text, nil); err != nil {
			t.Fatalf("fake answer invalid: %v", err)
		}
	})

	t.Run("DoesNotRetryBadCredentials", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{APIKey: "wrong"})
		b.server.RequireAPIKey("right")
		_, err := b.client.Generate(context.Background(), b.prompt)
		var me *assistant.ModelError
		if !errors.As(err, &me) || me.Temporary || !strings.Contains(me.Reason, "credentials") {
			t.Fatalf("err = %v", err)
		}
		if len(b.server.Requests()) != 1 {
			t.Fatalf("requests = %d", len(b.server.Requests()))
		}
	})

	t.Run("GivesUpOnALongRetryAfter", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{MaxRetryAfter: time.Second})
		b.server.Enqueue(fakeopenai.RateLimited(time.Minute))
		_, err := b.client.Generate(context.Background(), b.prompt)
		var me *assistant.ModelError
		if !errors.As(err, &me) || !me.Temporary || me.RetryAfter != time.Minute {
			t.Fatalf("err = %#v", err)
		}
		if len(b.server.Requests()) != 1 {
			t.Fatalf("requests = %d", len(b.server.Requests()))
		}
	})

	t.Run("RetriesDroppedConnections", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		b.server.Enqueue(fakeopenai.Dropped(), fakeopenai.Dropped())
		if _, err := b.client.Generate(context.Background(), b.prompt); err != nil {
			t.Fatal(err)
		}
		if len(b.server.Requests()) != 3 {
			t.Fatalf("requests = %d", len(b.server.Requests()))
		}
	})

	t.Run("ReportsCutOffAnswers", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		b.server.Enqueue(fakeopenai.CutOff())
		_, err := b.client.Generate(context.Background(), b.prompt)
		if !errors.Is(err, assistant.ErrCutOff) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("OpensTheBreakerAfterRepeatedFailures", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{MaxRetries: -1, BreakerThreshold: 2, BreakerCooldown: time.Minute})
		// The breaker's clock moves only when the test says: a slow
		// machine cannot let the cool-down pass between two steps.
		now := time.Now()
		b.client.breaker.now = func() time.Time { return now }
		b.server.Enqueue(fakeopenai.ServerError(), fakeopenai.ServerError())
		for range 2 {
			if _, err := b.client.Generate(context.Background(), b.prompt); err == nil {
				t.Fatal("want an error")
			}
		}
		if b.client.Healthy() {
			t.Fatal("breaker still closed after two failures")
		}
		_, err := b.client.Generate(context.Background(), b.prompt)
		if !errors.Is(err, errBreakerOpen) || len(b.server.Requests()) != 2 {
			t.Fatalf("err = %v, requests = %d; want a fast failure", err, len(b.server.Requests()))
		}
		now = now.Add(time.Minute)
		if _, err := b.client.Generate(context.Background(), b.prompt); err != nil {
			t.Fatalf("trial call after cool-down: %v", err)
		}
		if !b.client.Healthy() {
			t.Fatal("breaker not closed after a successful trial")
		}
	})
}

func TestBreakerReleasesATrialWithoutVerdict(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	b := &breaker{threshold: 1, cooldown: time.Second, now: func() time.Time { return now }}
	b.record(false)
	if b.allow() {
		t.Fatal("open breaker allowed a call")
	}
	now = now.Add(2 * time.Second)
	if !b.allow() || b.allow() {
		t.Fatal("want exactly one trial call")
	}
	b.release()
	if !b.allow() {
		t.Fatal("released trial blocked the next one")
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header http.Header
		want   time.Duration
	}{
		{http.Header{"Retry-After": {"2"}}, 2 * time.Second},
		{http.Header{"Retry-After": {"0.5"}}, 500 * time.Millisecond},
		{http.Header{"Retry-After": {"2"}, "Retry-After-Ms": {"150"}}, 150 * time.Millisecond},
		{http.Header{"Retry-After": {"soon"}}, 0},
		{http.Header{}, 0},
		{nil, 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.header); got != tt.want {
			t.Errorf("retryAfter(%v) = %v, want %v", tt.header, got, tt.want)
		}
	}
	date := http.Header{"Retry-After": {time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}}
	if got := retryAfter(date); got < 59*time.Minute || got > time.Hour {
		t.Errorf("retryAfter(date) = %v", got)
	}
}

func TestProvider(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{Model: "gpt-4o"}, "openai"},
		{Config{Model: "gpt-4o", BaseURL: "https://api.openai.com/v1"}, "openai"},
		{Config{Model: "llama3", BaseURL: "http://ollama:11434/v1"}, "openai-compatible"},
		{Config{Model: "gpt-4o", BaseURL: "https://x.openai.azure.com", Azure: AzureConfig{Deployment: "d"}}, "azure-openai"},
	} {
		c, err := New(tt.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if c.Provider() != tt.want {
			t.Errorf("Provider(%+v) = %s, want %s", tt.cfg, c.Provider(), tt.want)
		}
	}
}

func TestReasoningModelsGetTheirParameters(t *testing.T) {
	t.Parallel()
	c, err := New(Config{Model: "o3-mini"})
	if err != nil {
		t.Fatal(err)
	}
	p := &assistant.Prompt{Params: assistant.DefaultParams, SchemaName: "x", Schema: []byte(`{}`)}
	req := c.request(p, false)
	if req.MaxTokens != 0 || req.MaxCompletionTokens != 4096 || req.Temperature != 0 {
		t.Fatalf("request = %+v", req)
	}
	if !strings.Contains(c.request(p, true).Messages[0].Content, "The JSON schema of the answer") {
		t.Fatal("JSON mode does not carry the schema in the prompt")
	}
}
