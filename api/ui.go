package api

import "net/http"

// uiRoutes adds the HTML interface's routes (a separate route tree from the
// JSON API; its handlers live in the ui_*.go files).
func (s *Server) uiRoutes(mux *http.ServeMux) {}
