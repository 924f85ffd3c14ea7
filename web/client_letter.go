package web

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/client"
)

// The invitation letter: printed by the worker, given or posted to the
// client, in the client's language, with the code, the sign-up address and
// its QR code. Only the code's hash is stored, so the letter's address
// carries the code (letter_url of the JSON API); the page shows the letter
// only for the invitation's own code, to whoever may invite the client.

// letterView is the data of the letter.
type letterView struct {
	Name      string
	AccountID string
	Code      string
	Address   string
	QR        template.HTML
	Expires   time.Time
}

// handleInvite serves POST /cases/{id}/parties/{party_id}/invitations: the
// worker invites the client from the case page and gets the letter.
func (s *Server) handleInvite(w http.ResponseWriter, r *http.Request) {
	if s.Clients == nil {
		s.errorPage(w, r, s.errorf(r, countersign.ENOTFOUND, "page.notfound"))
		return
	}
	inv, code, err := s.Clients.CreateInvitation(r.Context(), r.PathValue("id"), r.PathValue("party_id"))
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	http.Redirect(w, r, client.LetterPath(inv, code), http.StatusSeeOther)
}

// handleLetter serves GET /cases/{id}/parties/{party_id}/invitations/{invitation_id}/letter?code=.
func (s *Server) handleLetter(w http.ResponseWriter, r *http.Request) {
	if s.Clients == nil {
		s.errorPage(w, r, s.errorf(r, countersign.ENOTFOUND, "page.notfound"))
		return
	}
	code := r.URL.Query().Get("code")
	inv, acc, err := s.Clients.FindInvitationLetter(r.Context(), r.PathValue("id"), r.PathValue("party_id"), r.PathValue("invitation_id"), code)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	address := s.clientOrigin(r) + "/client/signin"
	p := s.newClientPage(r, "letter.title")
	p.Lang, p.Letter = acc.Language, true
	qr, err := qrSVG(address, p.Tr("letter.qr"))
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	p.Data = letterView{Name: acc.Name, AccountID: acc.ID, Code: strings.ToUpper(code), Address: address, QR: qr, Expires: inv.ExpiresAt}
	w.Header().Set("Referrer-Policy", "no-referrer")
	s.renderClient(w, r, http.StatusOK, "client_letter.html", p)
}

// qrSVG draws the QR code of text as an inline SVG: one path of the dark
// modules, quiet zone included, that prints sharp at any size. The code is
// made by github.com/skip2/go-qrcode; only the drawing is ours.
func qrSVG(text, title string) (template.HTML, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("qr code: %w", err)
	}
	bm := q.Bitmap()
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" class="qr" role="img" aria-labelledby="qr-title" shape-rendering="crispEdges">`, len(bm), len(bm))
	b.WriteString(`<title id="qr-title">` + template.HTMLEscapeString(title) + `</title>`)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, len(bm), len(bm))
	for y, row := range bm {
		for x, dark := range row {
			if dark {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x, y)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String()), nil // numbers and an escaped title only
}
