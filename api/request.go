package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
	"github.com/go-playground/validator/v10/non-standard/validators"

	"github.com/countersign/countersign"
)

var validate = newValidator()

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	if err := v.RegisterValidation("notblank", validators.NotBlank); err != nil {
		panic(err)
	}
	// Name fields as the JSON the client sent, not as Go fields.
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		return name
	})
	return v
}

// decode reads a JSON body into dst and validates it. It refuses unknown
// fields, trailing data, invalid UTF-8 and bodies over the server's limit,
// each with a readable problem.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, dst any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return countersign.Errorf(countersign.ETOOLARGE, "The request is too large: at most %d bytes are accepted.", s.MaxBodyBytes)
		}
		return countersign.Errorf(countersign.EINVALID, "The request body could not be read.")
	}
	if !utf8.Valid(body) {
		return countersign.Errorf(countersign.EINVALID, "The request contains characters that are not valid text (it must be UTF-8).")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return countersign.Errorf(countersign.EINVALID, "The request must contain a single JSON object.")
	}
	return validateStruct(dst)
}

func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return countersign.Errorf(countersign.EINVALID, "The request body is empty; send a JSON object.")
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return countersign.Errorf(countersign.EINVALID, "The request is not valid JSON.")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return countersign.Errorf(countersign.EINVALID, "The request must be a JSON object.")
		}
		return countersign.InvalidFields("The request has mistakes.", countersign.FieldError{Field: field, Message: fmt.Sprintf("This must be %s.", jsonKind(typ.Type))})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return countersign.InvalidFields("The request has mistakes.", countersign.FieldError{Field: name, Message: "This field is not known."})
	}
	return countersign.Errorf(countersign.EINVALID, "The request is not valid JSON.")
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "text"
	case reflect.Int, reflect.Int64, reflect.Uint64, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "a list"
	}
	return "an object"
}

// validateStruct turns validator/v10 errors into readable field errors.
func validateStruct(v any) error {
	err := validate.Struct(v)
	var verrs validator.ValidationErrors
	if err == nil {
		return nil
	} else if !errors.As(err, &verrs) {
		return fmt.Errorf("validate request: %w", err)
	}
	fields := make([]countersign.FieldError, 0, len(verrs))
	for _, fe := range verrs {
		fields = append(fields, countersign.FieldError{Field: fieldPath(fe), Message: fieldMessage(fe)})
	}
	return countersign.InvalidFields("The request has mistakes; see the fields listed.", fields...)
}

// fieldPath returns "note_ids[2]" rather than "request.note_ids[2]".
func fieldPath(fe validator.FieldError) string {
	ns := fe.Namespace()
	if i := strings.IndexByte(ns, '.'); i >= 0 {
		return ns[i+1:]
	}
	return ns
}

func fieldMessage(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "This field is required."
	case "max":
		if fe.Kind() == reflect.Slice {
			return fmt.Sprintf("Give at most %s items.", fe.Param())
		}
		return fmt.Sprintf("This is too long: at most %s characters.", fe.Param())
	case "min":
		if fe.Kind() == reflect.Slice {
			return fmt.Sprintf("Give at least %s items.", fe.Param())
		}
		return fmt.Sprintf("This is too short: at least %s characters.", fe.Param())
	case "oneof":
		return "Choose one of: " + strings.ReplaceAll(fe.Param(), " ", ", ") + "."
	case "email":
		return "This is not an email address."
	case "notblank":
		return "This must not be blank."
	case "datetime":
		return "Give a date as YYYY-MM-DD."
	}
	return "This value is not accepted."
}

// queryTime reads an optional date (2026-01-31) or RFC 3339 time from the
// query; a malformed value adds a readable field error.
func queryTime(q url.Values, name string, fields *[]countersign.FieldError) *time.Time {
	v := q.Get(name)
	if v == "" {
		return nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return &t
	}
	if d, err := time.Parse("2006-01-02", v); err == nil {
		return &d
	}
	*fields = append(*fields, countersign.FieldError{Field: name, Message: "Give a date (2026-01-31) or a time (2026-01-31T09:00:00Z)."})
	return nil
}
