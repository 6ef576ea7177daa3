package api

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/tierwise/tierwise/reports"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
)

func (s *Server) tieredRoutes(r chi.Router) {
	r.Post("/tiered-commissions", s.createTieredRule)
	r.Get("/tiered-commissions", s.listTieredRules)
	r.Get("/tiered-commissions/conflicts", s.tieredConflicts)
	r.Post("/tiered-commissions/conflicts", s.draftTieredConflicts)
	r.Post("/tiered-commissions/preview", s.previewTieredRule)
	r.Get("/tiered-commissions/{id}", s.getTieredRule)
	r.Put("/tiered-commissions/{id}", s.updateTieredRule)
	r.Get("/commission-cycles", s.listCommissionCycles)
}

// tieredRuleInput is a rule as clients send it: id and created_at are the
// server's.
type tieredRuleInput struct {
	tiered.Rule
	ID        *int64 `json:"id,omitempty"`
	CreatedAt *any   `json:"created_at,omitempty"`
}

func (s *Server) decodeTieredRule(r *http.Request) (tiered.Rule, error) {
	in := tieredRuleInput{Rule: tiered.Rule{Active: true}}
	if err := decodeJSON(r, &in); err != nil {
		return tiered.Rule{}, err
	}
	return in.Rule, nil
}

func (s *Server) createTieredRule(w http.ResponseWriter, r *http.Request) {
	rule, err := s.decodeTieredRule(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.store.CreateTieredRule(r.Context(), rule)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) updateTieredRule(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rule, err := s.decodeTieredRule(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.store.UpdateTieredRule(r.Context(), id, rule)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getTieredRule(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.store.TieredRule(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listTieredRules(w http.ResponseWriter, r *http.Request) {
	rules, err := s.store.TieredRules(r.Context(), false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list[tiered.Rule]{Items: append([]tiered.Rule{}, rules...)})
}

// tieredConflicts lists pairs of active rules whose scopes and bands overlap,
// and which one wins.
func (s *Server) tieredConflicts(w http.ResponseWriter, r *http.Request) {
	rules, err := s.store.TieredRules(r.Context(), true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	offers, err := s.store.OfferAdvertisers(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list[tiered.Conflict]{Items: append([]tiered.Conflict{}, tiered.Conflicts(rules, offers)...)})
}

// listCommissionCycles is the commission-cycle report, a page at a time
// (reports.Service.CommissionCycles).
func (s *Server) listCommissionCycles(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var p store.Problems
	f := reports.CycleFilter{After: q.Get("after"), Limit: defaultLimit}
	for _, id := range []struct {
		field string
		dst   *int64
	}{{"rule_id", &f.RuleID}, {"partner_id", &f.PartnerID}, {"offer_id", &f.OfferID}} {
		if v := q.Get(id.field); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				p.Add(id.field, "must be a positive integer")
			}
			*id.dst = n
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			p.Add("limit", "must be between 1 and %d", maxLimit)
		}
		f.Limit = n
	}
	if f.After != "" {
		if _, err := reports.ParseCycleCursor(f.After); err != nil {
			p.Add("after", "must be a cursor from next_cursor")
		}
	}
	if err := p.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.reports.CommissionCycles(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}
