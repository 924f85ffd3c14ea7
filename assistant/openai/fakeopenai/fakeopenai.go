// Package fakeopenai is an in-process OpenAI-compatible chat completions
// server for tests across the repository. It speaks the real wire format on
// /v1/chat/completions and on Azure's
// /openai/deployments/{deployment}/chat/completions?api-version=…, records
// every request body (so a test can prove what never left the service),
// answers by default with a valid draft built from the notes in the request
// by the offline extractive drafter, and injects faults on demand: rate
// limits with Retry-After, server errors, slow answers, malformed and
// truncated answers, finish_reason "length", rejected json_schema output,
// and dropped connections.
package fakeopenai

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/countersign/countersign/assistant"
)

// Fault changes how the server answers one request. The zero Fault answers
// normally.
type Fault struct {
	// Status, when not 0, answers with this HTTP status and an OpenAI-style
	// error body (or Body, if set).
	Status int
	// Body, when set, is written verbatim instead of the generated answer.
	Body string
	// RetryAfter sets the Retry-After (whole seconds, rounded up) and
	// retry-after-ms headers.
	RetryAfter time.Duration
	// Delay holds the answer back, or until the client gives up.
	Delay time.Duration
	// Drop closes the connection without answering.
	Drop bool
	// Transform rewrites the generated message content.
	Transform func(content string) string
	// FinishReason replaces "stop".
	FinishReason string
}

// RateLimited answers 429 asking the client to wait d.
func RateLimited(d time.Duration) Fault {
	return Fault{Status: http.StatusTooManyRequests, RetryAfter: d}
}

// ServerError answers 500.
func ServerError() Fault { return Fault{Status: http.StatusInternalServerError} }

// Slow answers normally after d.
func Slow(d time.Duration) Fault { return Fault{Delay: d} }

// Dropped closes the connection without a word.
func Dropped() Fault { return Fault{Drop: true} }

// MalformedBody answers 200 with a body that is not JSON at all.
func MalformedBody() Fault {
	return Fault{Body: `{"id":"chatcmpl-x","choices":[{"message":{"content":`}
}

// MalformedContent answers with a message that is not JSON.
func MalformedContent() Fault {
	return Fault{Transform: func(string) string { return "Here is the summary you asked for: the client is doing well." }}
}

// TruncatedContent answers with the first half of the generated JSON, as a
// model that stopped mid-answer would, but with finish_reason "stop".
func TruncatedContent() Fault {
	return Fault{Transform: func(s string) string { return s[:len(s)/2] }}
}

// CutOff answers with half the JSON and finish_reason "length".
func CutOff() Fault {
	return Fault{Transform: func(s string) string { return s[:len(s)/2] }, FinishReason: "length"}
}

// Content answers with the given message content.
func Content(s string) Fault {
	return Fault{Transform: func(string) string { return s }}
}

// OneWordQuotes answers as a careless model would: the generated draft with
// every label taken off (no statement has a category, no item is a risk)
// and every citation quoting one word of its note. The service's own checks
// must catch what such a model leaves out.
func OneWordQuotes() Fault {
	return Fault{Transform: CarelessAnswer}
}

// CarelessAnswer rewrites a draft answer as OneWordQuotes describes; an
// answer it cannot read is returned as it is.
func CarelessAnswer(content string) string {
	return rewriteEntries(content, func(m map[string]any) {
		unlabel(m)
		cits, _ := m["citations"].([]any)
		for _, c := range cits {
			if cm, ok := c.(map[string]any); ok {
				if q, ok := cm["quote"].(string); ok && len(strings.Fields(q)) > 0 {
					cm["quote"] = strings.Trim(strings.Fields(q)[0], ".,;:")
				}
			}
		}
	})
}

// Unlabelled rewrites a draft answer as a model that labels nothing would
// give it: no statement or item has a category, no item is a risk; the
// citations stay as they are. An answer it cannot read is returned as it is.
func Unlabelled(content string) string { return rewriteEntries(content, unlabel) }

// ExtractUnlabelled answers r as the offline drafter would, less every
// label (Unlabelled): a responder for SetResponder.
func ExtractUnlabelled(r *ChatRequest) (string, error) {
	text, err := Extract(context.Background(), r)
	return Unlabelled(text), err
}

func unlabel(m map[string]any) {
	if _, ok := m["category"]; ok {
		m["category"] = ""
	}
	if m["type"] == assistant.ItemRisk {
		m["type"] = assistant.ItemAction
	}
}

// rewriteEntries applies fn to every statement and item of a draft answer.
func rewriteEntries(content string, fn func(map[string]any)) string {
	var answer map[string]any
	if err := json.Unmarshal([]byte(content), &answer); err != nil {
		return content
	}
	for _, key := range []string{"statements", "items"} {
		list, _ := answer[key].([]any)
		for _, e := range list {
			if m, ok := e.(map[string]any); ok {
				fn(m)
			}
		}
	}
	b, err := json.Marshal(answer)
	if err != nil {
		return content
	}
	return string(b)
}

// Request is one recorded request.
type Request struct {
	Method, Path, Query string
	Header              http.Header
	Body                []byte
}

// ChatRequest is the part of a chat completions request the server reads.
type ChatRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	ResponseFormat *struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Name   string          `json:"name"`
			Schema json.RawMessage `json:"schema"`
			Strict bool            `json:"strict"`
		} `json:"json_schema"`
	} `json:"response_format"`
	Temperature float64 `json:"temperature"`
	MaxTokens   int     `json:"max_tokens"`
}

// Message returns the content of the first message with role.
func (r *ChatRequest) Message(role string) string {
	for _, m := range r.Messages {
		if m.Role == role {
			return m.Content
		}
	}
	return ""
}

// Server is the fake. Create it with New and Close it when done.
type Server struct {
	*httptest.Server

	mu               sync.Mutex
	requests         []Request
	faults           []Fault
	always           *Fault
	rejectJSONSchema bool
	responder        func(*ChatRequest) (string, error)
	apiKey           string
}

// New starts a fake server.
func New() *Server {
	s := &Server{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.handle)
	mux.HandleFunc("POST /openai/deployments/{deployment}/chat/completions", s.handleAzure)
	s.Server = httptest.NewServer(mux)
	return s
}

// BaseURL returns the OpenAI-style base URL, ending in /v1.
func (s *Server) BaseURL() string { return s.URL + "/v1" }

// Enqueue queues faults for the next requests, one each, in order.
func (s *Server) Enqueue(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, faults...)
}

// Always applies f to every request once the queue is empty; nil stops it.
func (s *Server) Always(f *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.always = f
}

// RejectJSONSchema makes the server answer 400 to json_schema output, as
// servers without structured outputs do.
func (s *Server) RejectJSONSchema(reject bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectJSONSchema = reject
}

// SetResponder replaces the default extractive answer.
func (s *Server) SetResponder(f func(*ChatRequest) (content string, err error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.responder = f
}

// RequireAPIKey makes the server answer 401 unless the request carries key
// (as a Bearer token, or Azure's api-key header).
func (s *Server) RequireAPIKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiKey = key
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Sent returns every request body received so far, concatenated: what left
// the service, for leak checks.
func (s *Server) Sent() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b bytes.Buffer
	for _, r := range s.requests {
		b.Write(r.Body)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func (s *Server) handleAzure(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("api-version") == "" {
		writeError(w, http.StatusNotFound, "Resource not found", "404")
		return
	}
	s.handle(w, r)
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
	var f Fault
	if len(s.faults) > 0 {
		f, s.faults = s.faults[0], s.faults[1:]
	} else if s.always != nil {
		f = *s.always
	}
	reject, responder, key := s.rejectJSONSchema, s.responder, s.apiKey
	s.mu.Unlock()

	if f.Drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // closes the connection all the same
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	if key != "" && r.Header.Get("Authorization") != "Bearer "+key && r.Header.Get("api-key") != key {
		writeError(w, http.StatusUnauthorized, "Incorrect API key provided.", "invalid_api_key")
		return
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(f.RetryAfter.Seconds()))))
		w.Header().Set("Retry-After-Ms", strconv.FormatInt(f.RetryAfter.Milliseconds(), 10))
	}
	if f.Status != 0 {
		if f.Body != "" {
			w.WriteHeader(f.Status)
			io.WriteString(w, f.Body)
			return
		}
		writeError(w, f.Status, http.StatusText(f.Status), "")
		return
	}
	if f.Body != "" {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, f.Body)
		return
	}

	var req ChatRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Model == "" || len(req.Messages) == 0 {
		writeError(w, http.StatusBadRequest, "We could not parse the JSON body of your request.", "invalid_request_error")
		return
	}
	if reject && req.ResponseFormat != nil && req.ResponseFormat.Type == "json_schema" {
		writeError(w, http.StatusBadRequest, "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.", "invalid_request_error")
		return
	}
	var content string
	var err error
	if responder != nil {
		content, err = responder(&req)
	} else {
		content, err = Extract(r.Context(), &req)
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error(), "server_error")
		return
	}
	if f.Transform != nil {
		content = f.Transform(content)
	}
	finish := "stop"
	if f.FinishReason != "" {
		finish = f.FinishReason
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id":      "chatcmpl-fake",
		"object":  "chat.completion",
		"created": time.Now().Unix(),
		"model":   req.Model,
		"choices": []map[string]any{{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": content},
			"finish_reason": finish,
		}},
		"usage": map[string]int{
			"prompt_tokens":     len(body) / 4,
			"completion_tokens": len(content) / 4,
			"total_tokens":      len(body)/4 + len(content)/4,
		},
	})
}

// Extract answers a chat request the way the offline extractive drafter
// would, from the notes and directory found in the user message.
func Extract(ctx context.Context, req *ChatRequest) (string, error) {
	p, err := assistant.ParseUserMessage(req.Message("user"))
	if err != nil {
		return "", fmt.Errorf("fakeopenai: %w", err)
	}
	comp, err := assistant.Extractive{}.Generate(ctx, p)
	if err != nil {
		return "", fmt.Errorf("fakeopenai: %w", err)
	}
	return comp.Text, nil
}

func writeError(w http.ResponseWriter, status int, message, code string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"message": message, "type": "invalid_request_error", "param": nil, "code": code,
	}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
