package assistant

import (
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
)

// The prompt templates print fields of promptData and of its notes, the
// number of notes, and range over the notes: nothing else. text/template
// executes that by reflection, which cost more than the rest of rendering
// a prompt; promptProgram is the same template read once into a list of
// texts and fields to write. A template that uses anything else has no
// program and is executed as before (compileProgram). Both write the same
// bytes (TestPromptProgramWritesAsTheTemplate).

// promptField is a field a promptProgram writes.
type promptField int

const (
	fieldNone promptField = iota
	fieldLanguage
	fieldLanguageName
	fieldToday
	fieldBoundary
	fieldDirectoryJSON
	fieldNoteCount // len .Notes
	fieldNoteID    // fields of the note, inside the range
	fieldNoteWritten
	fieldNoteBody
)

// promptStep writes text, then field, or the steps of each note (notes,
// a range over .Notes).
type promptStep struct {
	text  string
	field promptField
	notes []promptStep
}

type promptProgram []promptStep

// programs are the compiled templates, by prompt version and template
// name ("system", "user"); a template that cannot be compiled is absent.
var programs = func() map[string]promptProgram {
	out := map[string]promptProgram{}
	for version, t := range templates {
		for _, name := range []string{"system", "user"} {
			if p, ok := compileProgram(t, name); ok {
				out[version+"\x00"+name] = p
			}
		}
	}
	return out
}()

// executePrompt writes template name of the template of version over
// data to b, with its program when it has one.
func executePrompt(b *strings.Builder, t *template.Template, version, name string, data *promptData) error {
	if p, ok := programs[version+"\x00"+name]; ok {
		b.Grow(p.size(data, nil))
		p.write(b, data, nil)
		return nil
	}
	b.Grow(4096)
	return t.ExecuteTemplate(b, name, data)
}

// size is how many bytes write writes.
func (p promptProgram) size(data *promptData, note *promptNote) int {
	n := 0
	for _, st := range p {
		n += len(st.text) + len(st.field.value(data, note))
		if st.notes != nil {
			for i := range data.Notes {
				n += promptProgram(st.notes).size(data, &data.Notes[i])
			}
		}
	}
	return n
}

func (p promptProgram) write(b *strings.Builder, data *promptData, note *promptNote) {
	for _, st := range p {
		b.WriteString(st.text)
		b.WriteString(st.field.value(data, note))
		if st.notes != nil {
			for i := range data.Notes {
				promptProgram(st.notes).write(b, data, &data.Notes[i])
			}
		}
	}
}

// value is what f writes of data, and of note inside a range over the
// notes ("" for fieldNone); size and write both read it.
func (f promptField) value(data *promptData, note *promptNote) string {
	switch f {
	case fieldLanguage:
		return data.Language
	case fieldLanguageName:
		return data.LanguageName
	case fieldToday:
		return data.Today
	case fieldBoundary:
		return data.Boundary
	case fieldDirectoryJSON:
		return data.DirectoryJSON
	case fieldNoteCount:
		return strconv.Itoa(len(data.Notes))
	case fieldNoteID:
		return note.ID
	case fieldNoteWritten:
		return note.Written
	case fieldNoteBody:
		return note.Body
	}
	return ""
}

// compileProgram reads template name of t into a program, or reports
// that it uses something a program cannot write.
func compileProgram(t *template.Template, name string) (promptProgram, bool) {
	tt := t.Lookup(name)
	if tt == nil || tt.Tree == nil || tt.Root == nil {
		return nil, false
	}
	return compileList(tt.Root, false)
}

func compileList(list *parse.ListNode, inRange bool) (promptProgram, bool) {
	var p promptProgram
	text := ""
	for _, n := range list.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			text += string(n.Text)
		case *parse.ActionNode:
			f, ok := compileAction(n, inRange)
			if !ok {
				return nil, false
			}
			p = append(p, promptStep{text: text, field: f})
			text = ""
		case *parse.RangeNode:
			if inRange || n.ElseList != nil || !isNotes(n.Pipe) {
				return nil, false
			}
			body, ok := compileList(n.List, true)
			if !ok {
				return nil, false
			}
			if body == nil {
				body = promptProgram{}
			}
			p = append(p, promptStep{text: text, notes: body})
			text = ""
		default:
			return nil, false
		}
	}
	if text != "" {
		p = append(p, promptStep{text: text})
	}
	return p, true
}

// compileAction reads {{.Field}}, {{$.Field}} and {{len .Notes}}.
func compileAction(n *parse.ActionNode, inRange bool) (promptField, bool) {
	pipe := n.Pipe
	if pipe == nil || len(pipe.Decl) > 0 || pipe.IsAssign || len(pipe.Cmds) != 1 {
		return fieldNone, false
	}
	args := pipe.Cmds[0].Args
	if len(args) == 2 {
		if id, ok := args[0].(*parse.IdentifierNode); ok && id.Ident == "len" && !inRange {
			if f, ok := args[1].(*parse.FieldNode); ok && len(f.Ident) == 1 && f.Ident[0] == "Notes" {
				return fieldNoteCount, true
			}
		}
		return fieldNone, false
	}
	if len(args) != 1 {
		return fieldNone, false
	}
	var ident []string
	top := !inRange // whether the field is of promptData
	switch a := args[0].(type) {
	case *parse.FieldNode:
		ident = a.Ident
	case *parse.VariableNode:
		if len(a.Ident) != 2 || a.Ident[0] != "$" {
			return fieldNone, false
		}
		ident, top = a.Ident[1:], true
	default:
		return fieldNone, false
	}
	if len(ident) != 1 {
		return fieldNone, false
	}
	if top {
		switch ident[0] {
		case "Language":
			return fieldLanguage, true
		case "LanguageName":
			return fieldLanguageName, true
		case "Today":
			return fieldToday, true
		case "Boundary":
			return fieldBoundary, true
		case "DirectoryJSON":
			return fieldDirectoryJSON, true
		}
		return fieldNone, false
	}
	switch ident[0] {
	case "ID":
		return fieldNoteID, true
	case "Written":
		return fieldNoteWritten, true
	case "Body":
		return fieldNoteBody, true
	}
	return fieldNone, false
}

// isNotes reports whether pipe is .Notes, and nothing else.
func isNotes(pipe *parse.PipeNode) bool {
	if pipe == nil || len(pipe.Decl) > 0 || pipe.IsAssign || len(pipe.Cmds) != 1 || len(pipe.Cmds[0].Args) != 1 {
		return false
	}
	f, ok := pipe.Cmds[0].Args[0].(*parse.FieldNode)
	return ok && len(f.Ident) == 1 && f.Ident[0] == "Notes"
}
