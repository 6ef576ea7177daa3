package api

import (
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/tierwise/tierwise/store"
)

// reportRoutes are the conversion report's totals and the payout runs.
func (s *Server) reportRoutes(r chi.Router) {
	r.Get("/conversions/totals", s.conversionTotals)
	r.Get("/payout-runs", s.listPayoutRuns)
	r.Get("/payout-runs/{id}", s.getPayoutRun)
	r.Get("/payout-runs/{id}/lines", s.listPayoutRunLines)
	r.Get("/payout-runs/{id}/export.csv", s.exportPayoutRun)
}

// conversionTotals sums the conversion report's filter, per currency.
func (s *Server) conversionTotals(w http.ResponseWriter, r *http.Request) {
	f, err := s.conversionFilter(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	totals, err := s.reports.ConversionTotals(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list[store.ConversionTotal]{Items: append([]store.ConversionTotal{}, totals...)})
}

// listPayoutRuns lists runs newest first; next_cursor continues with older
// ones.
func (s *Server) listPayoutRuns(w http.ResponseWriter, r *http.Request) {
	p, _, err := filters(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	runs, err := s.store.PayoutRuns(r.Context(), storePage(p))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newList(runs, p, func(run store.PayoutRun) int64 { return run.ID }))
}

// payoutRunView is a run with what it pays each partner, per currency.
type payoutRunView struct {
	store.PayoutRun
	Partners []store.PartnerTotal `json:"partners"`
}

func (s *Server) getPayoutRun(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	run, err := s.store.PayoutRun(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	totals, err := s.store.PayoutRunTotals(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, payoutRunView{PayoutRun: run, Partners: append([]store.PartnerTotal{}, totals...)})
}

func (s *Server) listPayoutRunLines(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, _, err := filters(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := s.store.PayoutRun(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	lines, err := s.store.PayoutRunLines(r.Context(), id, storePage(p))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newList(lines, p, func(l store.PaidLine) int64 { return l.ID }))
}

// exportPayoutRun writes every line of a run as CSV, times in the network's
// time zone.
func (s *Server) exportPayoutRun(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := s.store.PayoutRun(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	loc, err := s.store.NetworkTimeZone(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="payout-run-%d.csv"`, id))
	if err := s.reports.ExportPayoutRun(r.Context(), w, id, loc); err != nil {
		// The header is sent: all that is left is to end the body short.
		s.logger.ErrorContext(r.Context(), "export payout run", "payout_run_id", id, "error", err)
	}
}
