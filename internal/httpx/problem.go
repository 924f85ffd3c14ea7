package httpx

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/countersign/countersign"
)

// titles names each error code in RFC 9457's title.
var titles = map[string]string{
	countersign.EINVALID:      "The request has mistakes",
	countersign.ENOTFOUND:     "Not found",
	countersign.ECONFLICT:     "Conflict with the current state",
	countersign.EPRECONDITION: "Changed since you read it",
	countersign.EUNAUTHORIZED: "Sign-in needed",
	countersign.EFORBIDDEN:    "Not allowed",
	countersign.ETOOLARGE:     "Too large",
	countersign.EUNAVAILABLE:  "Temporarily unavailable",
	countersign.ERATELIMIT:    "Too many requests",
	countersign.EINTERNAL:     "Internal error",
	countersign.EMETHOD:       "Method not allowed",
}

// Problem is an RFC 9457 problem details document.
type Problem struct {
	Type     string                   `json:"type"`
	Title    string                   `json:"title"`
	Status   int                      `json:"status"`
	Detail   string                   `json:"detail"`
	Instance string                   `json:"instance,omitempty"`
	Code     string                   `json:"code"`
	Errors   []countersign.FieldError `json:"errors,omitempty"`
}

// Error writes err as application/problem+json, with the status of the one
// table. Only internal errors are logged, with the request; their detail
// never reaches the response.
func Error(w http.ResponseWriter, r *http.Request, err error) {
	code, status := Status(err)
	LogError(r, code, err)
	if code == countersign.EINTERNAL && r.Context().Err() != nil {
		status = 499
	}
	if code == countersign.EUNAVAILABLE {
		w.Header().Set("Retry-After", "2")
	}
	p := Problem{
		Type:     "https://countersign.example/problems/" + code,
		Title:    titles[code],
		Status:   status,
		Detail:   countersign.ErrorMessage(err),
		Instance: r.URL.Path,
		Code:     code,
		Errors:   countersign.ErrorFields(err),
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

// LogError logs err as its code deserves: an internal error with the
// request (or as a cancellation when the client went away), an unavailable
// dependency as a warning, anything else not at all (it is the caller's
// mistake, and its message went back to them).
func LogError(r *http.Request, code string, err error) {
	req := slog.Group("request", "method", r.Method, "route", r.Pattern)
	switch {
	case code == countersign.EINTERNAL && r.Context().Err() != nil:
		// The client went away mid-request; nothing is wrong with the service.
		Logger(r).Info("request cancelled by the client", req)
	case code == countersign.EINTERNAL:
		Logger(r).Error("internal error", req, "err", err)
	case code == countersign.EUNAVAILABLE:
		Logger(r).Warn("service unavailable", req, "err", err)
	}
}
