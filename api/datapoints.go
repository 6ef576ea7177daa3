package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

func (s *Server) dataPointRoutes(r chi.Router) {
	r.Get("/data-points", s.listDataPoints)
	r.Post("/data-points", s.createDataPoint)
}

type dataPointInput struct {
	Name       string `json:"name"`
	Identifier string `json:"identifier"`
	Type       string `json:"type"`
}

func (s *Server) createDataPoint(w http.ResponseWriter, r *http.Request) {
	var in dataPointInput
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	dp, err := s.store.CreateDataPoint(r.Context(), in.Name, in.Identifier, in.Type)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, dp)
}

func (s *Server) listDataPoints(w http.ResponseWriter, r *http.Request) {
	dps, err := s.store.ActiveDataPoints(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": dps})
}
