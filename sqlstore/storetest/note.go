package storetest

import "golang.org/x/mod/sumdb/note"

type noteSigner = note.Signer
