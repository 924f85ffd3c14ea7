package audit

// Actions of the client's right to answer (package client, response.go).
// Append only; do not rename: the names are part of every leaf ever hashed.
const (
	// A client said an entry of their file is wrong, or added their own
	// view; the payload commits to the text.
	ActionClientResponded = "client.responded"
	// The case's worker answered a client's response: corrected (the
	// correction's own event is written beside it), declined or attached.
	ActionClientResponseAnswered = "client.response_answered"
)
