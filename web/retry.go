package web

import "net/http"

// handleRetry serves POST /drafts/{id}/retry: the person who asked for a
// failed draft, its reviewer or a supervisor of its team queues it again
// (review.DecideRetry, through the store, as POST /v1/drafts/{id}/retry
// does), and the draft's page shows its progress.
func (s *Server) handleRetry(w http.ResponseWriter, r *http.Request) {
	d, err := s.Review.RetryDraft(r.Context(), r.PathValue("id"))
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if s.DraftQueued != nil {
		s.DraftQueued(d.ID)
	}
	redirect(w, r, "/drafts/"+d.ID, "")
}
