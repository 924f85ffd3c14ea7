package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/countersign/countersign"
)

// statuses maps each error code to its HTTP status: the one table.
var statuses = map[string]int{
	countersign.EINVALID:      http.StatusUnprocessableEntity,
	countersign.ENOTFOUND:     http.StatusNotFound,
	countersign.ECONFLICT:     http.StatusConflict,
	countersign.EPRECONDITION: http.StatusPreconditionFailed,
	countersign.EUNAUTHORIZED: http.StatusUnauthorized,
	countersign.EFORBIDDEN:    http.StatusForbidden,
	countersign.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	countersign.EUNAVAILABLE:  http.StatusServiceUnavailable,
	countersign.ERATELIMIT:    http.StatusTooManyRequests,
	countersign.EINTERNAL:     http.StatusInternalServerError,
}

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

// Error writes err as application/problem+json. Only internal errors are
// logged, with the request; their detail never reaches the response.
func Error(w http.ResponseWriter, r *http.Request, err error) {
	code := countersign.ErrorCode(err)
	status, ok := statuses[code]
	if !ok {
		status, code = http.StatusInternalServerError, countersign.EINTERNAL
	}
	if code == countersign.EINTERNAL && r.Context().Err() != nil {
		// The client went away mid-request; nothing is wrong with the service.
		logger(r).Info("request cancelled by the client", slog.Group("request", "method", r.Method, "route", r.Pattern))
		status = 499
	} else if code == countersign.EINTERNAL {
		logger(r).Error("internal error", slog.Group("request", "method", r.Method, "route", r.Pattern), "err", err)
	} else if code == countersign.EUNAVAILABLE {
		logger(r).Warn("service unavailable", slog.Group("request", "method", r.Method, "route", r.Pattern), "err", err)
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

// JSON writes v with the given status.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// queryInt reads an optional integer query parameter.
func queryInt(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, countersign.InvalidFields("The request has mistakes.", countersign.FieldError{Field: name, Message: "Give a whole number, 0 or more."})
	}
	return n, nil
}
