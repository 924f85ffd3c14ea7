package audit

// ActionCaseRead is a staff member's read of a case's content (the case,
// its notes, its record, a draft, an export on the client's behalf),
// written before the content is returned, so the client sees who looked
// (package client, access.go). Append only; do not rename.
const ActionCaseRead = "case.read"
