package client

import (
	"embed"
	"html/template"
	"io"
	"strconv"
)

// The bundle as a readable page (GET /v1/client/export with Accept:
// text/html or ?format=html, and the client's page /client/export): plain
// HTML that prints well and reads without the service, in the client's
// language. It is written here, beside the bundle, so both doors give the
// same page.

//go:embed export.html
var exportFS embed.FS

var exportPage = template.Must(template.New("export.html").Funcs(template.FuncMap{
	"date": Date,
	"w":    Words,
	"seq":  func(s *uint64) string { return strconv.FormatUint(*s, 10) },
	"time": Clock,
	"str":  func(v any) string { return toString(v) },
}).ParseFS(exportFS, "export.html"))

func toString(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case ResponseKind:
		return string(s)
	case AnswerOutcome:
		return string(s)
	}
	return ""
}

// RenderBundle writes b as a printable HTML page in its language.
func RenderBundle(w io.Writer, b *Bundle) error {
	return exportPage.Execute(w, b)
}
