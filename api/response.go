package api

import (
	"net/http"
	"strconv"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/internal/httpx"
)

// statuses is the one table of error codes and their HTTP statuses, which
// the API shares with the web interface (httpx.Status).
var statuses = httpx.Statuses()

// Problem is an RFC 9457 problem details document.
type Problem = httpx.Problem

// Error writes err as application/problem+json. Only internal errors are
// logged, with the request; their detail never reaches the response.
func Error(w http.ResponseWriter, r *http.Request, err error) { httpx.Error(w, r, err) }

// JSON writes v with the given status.
func JSON(w http.ResponseWriter, status int, v any) { httpx.JSON(w, status, v) }

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
