package assistant

import (
	"math/rand/v2"
	"strings"
	"testing"
	"text/template"
)

// TestPromptProgramWritesAsTheTemplate: every prompt template has a
// program, and it writes exactly what executing the template writes, over
// data of none to several notes with any text in them.
func TestPromptProgramWritesAsTheTemplate(t *testing.T) {
	t.Parallel()
	texts := []string{"", "en", "French", "2024-05-01", "0123456789abcdef", `[{"id":"svc_1","name":"A & B <c>"}]`, "note_1", "{{.Body}}", "<<<END NOTE x>>>",
		"Jean-Pierre Müller fears eviction.\nCall him.", " \t padded \n", "\x00\xff", "“quoted”", "$", "%d %s"}
	rng := rand.New(rand.NewPCG(5, 8))
	pick := func() string { return texts[rng.IntN(len(texts))] + texts[rng.IntN(len(texts))] }
	for version, tmpl := range templates {
		for _, name := range []string{"system", "user"} {
			p, ok := programs[version+"\x00"+name]
			if !ok {
				t.Fatalf("%s %s: no program", version, name)
			}
			for range 300 {
				data := promptData{Language: pick(), LanguageName: pick(), Today: pick(), Boundary: pick(), DirectoryJSON: pick()}
				for range rng.IntN(4) {
					data.Notes = append(data.Notes, promptNote{ID: pick(), Written: pick(), Body: pick()})
				}
				var want, got strings.Builder
				if err := tmpl.ExecuteTemplate(&want, name, data); err != nil {
					t.Fatal(err)
				}
				p.write(&got, &data, nil)
				if got.String() != want.String() {
					t.Fatalf("%s %s over %+v:\n got %q\nwant %q", version, name, data, got.String(), want.String())
				}
			}
		}
	}
}

// TestPromptProgramLeavesTheRestToTheTemplate: a template that uses
// anything but the fields, the number of notes and a range over them has
// no program, and executePrompt executes it.
func TestPromptProgramLeavesTheRestToTheTemplate(t *testing.T) {
	t.Parallel()
	for _, text := range []string{
		`{{if .Language}}x{{end}}`,
		`{{.Language | printf "%q"}}`,
		`{{.Notes}}`,
		`{{.ID}}`,
		`{{range .Notes}}{{.Boundary}}{{end}}`,
		`{{range .Notes}}{{len .Notes}}{{end}}`,
		`{{range $i, $n := .Notes}}{{$n.ID}}{{end}}`,
		`{{range .Notes}}x{{else}}none{{end}}`,
		`{{range .Notes}}{{range .Notes}}{{end}}{{end}}`,
		`{{with .Language}}{{.}}{{end}}`,
		`{{$x := .Language}}{{$x}}`,
		`{{len .Language}}`,
		`{{.Unknown}}`,
		`{{template "other" .}}`,
	} {
		tmpl := template.Must(template.New("x").Parse(`{{define "other"}}o{{end}}{{define "t"}}` + text + `{{end}}`))
		if p, ok := compileProgram(tmpl, "t"); ok {
			t.Errorf("%s: compiled to %+v", text, p)
		}
	}
	tmpl := template.Must(template.New("x").Parse(`{{define "t"}}{{if .Language}}[{{.Language}}]{{end}}{{end}}`))
	var b strings.Builder
	if err := executePrompt(&b, tmpl, "not/a/version", "t", &promptData{Language: "fr"}); err != nil || b.String() != "[fr]" {
		t.Fatalf("executePrompt = %q, %v", b.String(), err)
	}
	ok := template.Must(template.New("x").Parse(`{{define "t"}}a{{.Language}}b{{$.Today}}{{len .Notes}}{{range .Notes}}<{{.ID}}|{{$.Boundary}}>{{end}}c{{end}}`))
	p, compiled := compileProgram(ok, "t")
	if !compiled {
		t.Fatal("a template of fields, a count and a range was not compiled")
	}
	b.Reset()
	p.write(&b, &promptData{Language: "en", Today: "2024-05-01", Boundary: "B", Notes: []promptNote{{ID: "1"}, {ID: "2"}}}, nil)
	if want := "aenb2024-05-012<1|B><2|B>c"; b.String() != want {
		t.Fatalf("program wrote %q, want %q", b.String(), want)
	}
}

// TestPromptProgramSize: a program's size is the length of what it writes.
func TestPromptProgramSize(t *testing.T) {
	t.Parallel()
	data := promptData{Language: "fr", LanguageName: "French", Today: "2024-05-01", Boundary: "0123456789abcdef", DirectoryJSON: `[{"id":"x"}]`}
	for i := range 12 {
		data.Notes = append(data.Notes, promptNote{ID: "note_" + strings.Repeat("x", i), Written: "2024-04-0" + string(rune('1'+i%9)), Body: strings.Repeat("é b ", i)})
		for key, p := range programs {
			var b strings.Builder
			p.write(&b, &data, nil)
			if n := p.size(&data, nil); n != b.Len() {
				t.Fatalf("%q with %d notes: size %d, wrote %d bytes", key, len(data.Notes), n, b.Len())
			}
		}
	}
}
