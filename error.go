// Package countersign holds the vocabulary shared by every part of the
// service: the Error type and its codes, the Actor who acts, and roles.
// It imports only the standard library so that every other package may use it.
package countersign

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status in api; append only.
const (
	EINVALID  = "invalid"
	ENOTFOUND = "not_found"
	ECONFLICT = "conflict"
	// EPRECONDITION: the caller acted on a version of a resource that has
	// changed since they read it (If-Match).
	EPRECONDITION = "precondition_failed"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	ETOOLARGE     = "too_large"
	EUNAVAILABLE  = "unavailable"
	ERATELIMIT    = "rate_limited"
	EINTERNAL     = "internal"
	// EMETHOD: the path exists, but not with this method (405, with Allow).
	EMETHOD = "method_not_allowed"
)

// FieldError names one field of a request and what is wrong with it, in a
// sentence a social worker can read.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is an error meant for the person using the service: Message is a
// short readable sentence, Code says what kind of failure it is, and Fields
// names the request fields at fault. Internal detail never goes in Message.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("countersign error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// InvalidFields returns an EINVALID error naming the fields at fault.
func InvalidFields(message string, fields ...FieldError) *Error {
	return &Error{Code: EINVALID, Message: message, Fields: fields}
}

// ErrorCode returns the code of the first *Error in err's chain, or EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the readable message of the first *Error in err's
// chain, or "Internal error." for any other error.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// ErrorFields returns the fields at fault named by the first *Error in err's chain.
func ErrorFields(err error) []FieldError {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}
