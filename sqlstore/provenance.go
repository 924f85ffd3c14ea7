package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
)

// keepProvenance stores on a draft whose generation failed what is known of
// the last model call (model, provider, prompt version, parameters, hashes,
// tokens, latency, pseudonymisation) and adds the same facts to the audit
// payload p. A nil res (the model was never called) changes nothing.
func keepProvenance(ctx context.Context, tx *Tx, draftID string, res *assistant.Result, p audit.Payload) error {
	if res == nil {
		return nil
	}
	masked, _ := json.Marshal(res.Masked)
	params, _ := json.Marshal(res.Params)
	if _, err := tx.ExecContext(ctx, tx.Rebind(`
		UPDATE drafts SET model = ?, provider = ?, prompt_version = ?, params = ?, request_hash = ?, response_hash = ?,
			prompt_tokens = ?, completion_tokens = ?, latency_ms = ?, pseudonymised = ?, masked = ?
		WHERE id = ?`), res.Model, res.Provider, res.PromptVersion, string(params), res.RequestHash, res.ResponseHash,
		res.PromptTokens, res.CompletionTokens, res.Latency.Milliseconds(), res.Pseudonymised, string(masked), draftID); err != nil {
		return fmt.Errorf("keep provenance of draft %s: %w", draftID, err)
	}
	p["model"], p["provider"], p["prompt_version"] = res.Model, res.Provider, res.PromptVersion
	p["model_calls"] = strconv.Itoa(res.Attempts)
	p["prompt_tokens"], p["completion_tokens"] = strconv.Itoa(res.PromptTokens), strconv.Itoa(res.CompletionTokens)
	p["latency_ms"] = strconv.FormatInt(res.Latency.Milliseconds(), 10)
	p["pseudonymised"] = strconv.FormatBool(res.Pseudonymised)
	if res.RequestHash != "" {
		p["request_sha256"], p["response_sha256"] = res.RequestHash, res.ResponseHash
	}
	for k, v := range res.Params {
		p["param."+k] = v
	}
	for k, v := range res.Masked {
		p["masked."+k] = strconv.Itoa(v)
	}
	return nil
}
