package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/store"
)

// dataPointRoutes are the data points: typed postback parameters that
// Customer Value conditions read.
func (s *Server) dataPointRoutes(r chi.Router) {
	r.Post("/data-points", s.createDataPoint)
	r.Get("/data-points", s.listDataPoints)
	r.Get("/data-points/{id}", s.getDataPoint)
	r.Patch("/data-points/{id}", s.patchDataPoint)
	r.Delete("/data-points/{id}", s.deactivateDataPoint)
	r.Get("/data-points/{id}/operators", s.dataPointOperators)
}

func (s *Server) createDataPoint(w http.ResponseWriter, r *http.Request) {
	var in store.DataPointInput
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

// listDataPoints lists every data point, or with ?active=true|false the
// active or the inactive ones.
func (s *Server) listDataPoints(w http.ResponseWriter, r *http.Request) {
	p, err := parsePage(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f := store.DataPointFilter{Page: storePage(p)}
	switch v := r.URL.Query().Get("active"); v {
	case "":
	case "true", "false":
		active := v == "true"
		f.Active = &active
	default:
		s.writeError(w, r, store.Invalid("active", "must be true or false, got %q", v))
		return
	}
	dps, err := s.store.DataPoints(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newList(dps, p, func(dp store.DataPoint) int64 { return dp.ID }))
}

func (s *Server) getDataPoint(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	dp, err := s.store.DataPoint(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, dp)
}

func (s *Server) patchDataPoint(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in store.DataPointPatch
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	dp, err := s.store.UpdateDataPoint(r.Context(), id, in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, dp)
}

// deactivateDataPoint stops reading a data point from postbacks; data points
// are never deleted, since conversions keep the values they captured.
func (s *Server) deactivateDataPoint(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	dp, err := s.store.DeactivateDataPoint(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, dp)
}

// dataPointOperators are the operators a condition on the data point offers.
type dataPointOperators struct {
	Type      string   `json:"type"`
	Operators []string `json:"operators"`
	// CountOperators are the operators of a count aggregation, which is a
	// number whatever the data point's type.
	CountOperators []string `json:"count_operators"`
}

// dataPointOperators answers the rule editor's filtered operator list: text
// data points compare with eq, ne, in; numbers with gt, gte, lt, lte, eq,
// between.
func (s *Server) dataPointOperators(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	dp, err := s.store.DataPoint(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, dataPointOperators{
		Type:           dp.Type,
		Operators:      customervalue.OperatorsFor(dp.Type),
		CountOperators: customervalue.OperatorsFor(string(customervalue.TypeNumber)),
	})
}
