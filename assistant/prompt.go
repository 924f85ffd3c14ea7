package assistant

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"text/template"
	"time"
)

// Prompt template versions. A version names one template file and is stored
// with every draft, so a change of wording is a new file and a new version;
// never edit a released template in place.
const (
	SummaryPromptVersion     = "summary/v2"
	SuggestionsPromptVersion = "suggestions/v2"
	LetterPromptVersion      = "letter/v1"
)

//go:embed prompts/*.tmpl
var promptFS embed.FS

// templates maps a prompt version to its parsed template.
var templates = map[string]*template.Template{
	SummaryPromptVersion:     template.Must(template.ParseFS(promptFS, "prompts/summary.v2.tmpl")),
	SuggestionsPromptVersion: template.Must(template.ParseFS(promptFS, "prompts/suggestions.v2.tmpl")),
	LetterPromptVersion:      template.Must(template.ParseFS(promptFS, "prompts/letter.v1.tmpl")),
}

// PromptVersion returns the current prompt template version for kind.
func PromptVersion(kind Kind) string {
	switch kind {
	case KindSuggestions:
		return SuggestionsPromptVersion
	case KindLetter:
		return LetterPromptVersion
	}
	return SummaryPromptVersion
}

type promptNote struct {
	ID, Written, Body string
}

type promptData struct {
	Language, LanguageName, Today string
	Boundary                      string
	Notes                         []promptNote
	DirectoryJSON                 string
}

// RenderPrompt renders the current template for kind over notes (already
// pseudonymised when they leave the service) and the referral directory.
func RenderPrompt(kind Kind, lang string, notes []Note, directory []Service, today time.Time, params Params) (*Prompt, error) {
	if !kind.Valid() {
		return nil, fmt.Errorf("render prompt: unknown kind %q", kind)
	}
	version := PromptVersion(kind)
	data := promptData{
		Language:     lang,
		LanguageName: languageName(lang),
		Today:        today.Format(time.DateOnly),
		Boundary:     boundary(notes),
	}
	data.Notes = make([]promptNote, 0, len(notes))
	for _, n := range notes {
		written := ""
		if !n.WrittenAt.IsZero() {
			written = n.WrittenAt.UTC().Format(time.DateOnly)
		}
		data.Notes = append(data.Notes, promptNote{ID: n.ID, Written: written, Body: strings.TrimSpace(n.Body)})
	}
	if len(directory) == 0 {
		data.DirectoryJSON = "[]" // as the encoder writes an empty list
	} else {
		var dj bytes.Buffer
		enc := json.NewEncoder(&dj)
		enc.SetEscapeHTML(false) // the prompt is not HTML; keep "&" readable for the model
		if err := enc.Encode(directory); err != nil {
			return nil, fmt.Errorf("render prompt: directory: %w", err)
		}
		data.DirectoryJSON = strings.TrimSpace(dj.String())
	}

	// executePrompt sizes them up front, so that writing the messages does
	// not grow them again and again.
	var sys, user strings.Builder
	t := templates[version]
	if err := executePrompt(&sys, t, version, "system", &data); err != nil {
		return nil, fmt.Errorf("render prompt %s: system: %w", version, err)
	}
	if err := executePrompt(&user, t, version, "user", &data); err != nil {
		return nil, fmt.Errorf("render prompt %s: user: %w", version, err)
	}
	return &Prompt{
		Kind:       kind,
		Version:    version,
		System:     sys.String(),
		User:       user.String(),
		Schema:     Schema(kind),
		SchemaName: "countersign_" + string(kind),
		Notes:      notes,
		Directory:  directory,
		Language:   lang,
		Today:      today,
		Params:     params,
	}, nil
}

// boundary derives the note delimiter from the notes themselves. A note
// cannot contain the marker that closes it unless its author could predict a
// hash of the very text they are writing, so no note can break out of its
// DATA block; deriving it rather than drawing it at random keeps prompts,
// and their hashes, reproducible.
func boundary(notes []Note) string {
	n := 0
	for _, note := range notes {
		n += len(note.ID) + len(note.Body) + 2
	}
	b := make([]byte, 0, n)
	for _, note := range notes {
		b = append(b, note.ID...)
		b = append(b, 0)
		b = append(b, note.Body...)
		b = append(b, 0)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

var (
	reTask      = regexp.MustCompile(`(?m)^Task: (\w+)$`)
	reLanguage  = regexp.MustCompile(`(?m)^Language: (\w+)$`)
	reToday     = regexp.MustCompile(`(?m)^Today: (\d{4}-\d{2}-\d{2})$`)
	reNoteStart = regexp.MustCompile(`<<<NOTE ([0-9a-f]+) id="([^"]*)" written="([^"]*)">>>\n`)
	reDirStart  = regexp.MustCompile(`<<<DIRECTORY ([0-9a-f]+)>>>\n`)
)

// ParseUserMessage reads back the structured inputs from a user message
// rendered by RenderPrompt. Test doubles of remote models use it to answer
// from exactly what was sent over the wire.
func ParseUserMessage(user string) (*Prompt, error) {
	p := &Prompt{}
	if m := reTask.FindStringSubmatch(user); m != nil {
		p.Kind = Kind(m[1])
	}
	if !p.Kind.Valid() {
		return nil, fmt.Errorf("parse user message: no known task")
	}
	p.Version = PromptVersion(p.Kind)
	if m := reLanguage.FindStringSubmatch(user); m != nil {
		p.Language = m[1]
	}
	if m := reToday.FindStringSubmatch(user); m != nil {
		p.Today, _ = time.Parse(time.DateOnly, m[1])
	}
	rest := user
	for {
		ix := reNoteStart.FindStringSubmatchIndex(rest)
		if ix == nil {
			break
		}
		b, id, written := rest[ix[2]:ix[3]], rest[ix[4]:ix[5]], rest[ix[6]:ix[7]]
		body := rest[ix[1]:]
		end := strings.Index(body, "\n<<<END NOTE "+b+">>>")
		if end < 0 {
			return nil, fmt.Errorf("parse user message: note %s is not closed", id)
		}
		n := Note{ID: id, Body: body[:end]}
		n.WrittenAt, _ = time.Parse(time.DateOnly, written)
		p.Notes = append(p.Notes, n)
		rest = body[end:]
	}
	if ix := reDirStart.FindStringSubmatchIndex(rest); ix != nil {
		b := rest[ix[2]:ix[3]]
		body := rest[ix[1]:]
		end := strings.Index(body, "\n<<<END DIRECTORY "+b+">>>")
		if end < 0 {
			return nil, fmt.Errorf("parse user message: directory is not closed")
		}
		if err := json.Unmarshal([]byte(body[:end]), &p.Directory); err != nil {
			return nil, fmt.Errorf("parse user message: directory: %w", err)
		}
	}
	return p, nil
}
