package client

// A letter (assistant.KindLetter) is signed as its body alone: what the
// signer checked, each sentence resting on a signed entry. The greeting
// and the closing are the service's, in the client's language, added
// where the letter is shown (LetterFrame), so the signed text never holds
// a sentence nobody checked against the record.

// letterFrames are the greeting (with the client's name) and the closing
// (with the signer's name) of a letter, per language.
var letterFrames = map[string]struct{ greeting, closing string }{
	"en": {"Dear %s,", "If something in this letter is wrong, tell us: you can answer each part of your file. With kind regards, %s"},
	"fr": {"Bonjour %s,", "Si quelque chose est faux dans cette lettre, dites-le nous : vous pouvez répondre à chaque partie de votre dossier. Bien à vous, %s"},
	"nl": {"Beste %s,", "Klopt er iets niet in deze brief? Zeg het ons: u kunt op elk deel van uw dossier reageren. Met vriendelijke groeten, %s"},
	"de": {"Guten Tag %s,", "Wenn in diesem Brief etwas nicht stimmt, sagen Sie es uns: Sie können auf jeden Teil Ihrer Akte antworten. Mit freundlichen Grüßen, %s"},
}

// LetterFrame returns the greeting and the closing of a letter in lang
// (English for a language it does not know), as format strings: the
// greeting takes the client's name, the closing the signer's.
func LetterFrame(lang string) (greeting, closing string) {
	f, ok := letterFrames[lang]
	if !ok {
		f = letterFrames["en"]
	}
	return f.greeting, f.closing
}
