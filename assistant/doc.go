// Package assistant is the drafting engine: draft kinds and their versioned
// prompts, the Model interface that providers implement, pseudonymisation of
// case notes before they leave the service, the output schema and its strict
// validation, and the grounding check that ties every statement back to the
// note text it rests on.
//
// The package is pure: it imports no adapter. Providers live in their own
// packages (assistant/openai) and the offline extractive drafter lives here
// because it needs nothing but the notes.
//
// A draft is produced by Drafter.Draft in fixed steps:
//
//  1. pseudonymise the notes (unless the model is on the premises);
//  2. render the prompt template of the draft kind, with the notes delimited
//     as data, never as instructions;
//  3. ask the model, parse and validate the answer against the schema, and
//     ask once more if it was invalid;
//  4. put the masked values back and check every citation against its note.
//
// Nothing here decides what enters a case record: a draft is only ever a
// proposal that a named person reviews and signs (package review).
package assistant
