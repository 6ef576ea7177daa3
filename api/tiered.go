package api

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"
	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
)

func (s *Server) tieredRoutes(r chi.Router) {
	r.Post("/tiered-commissions", s.createTieredRule)
	r.Get("/tiered-commissions", s.listTieredRules)
	r.Get("/tiered-commissions/conflicts", s.tieredConflicts)
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

// cycleReport is a commission cycle with its band by name and the distance
// to the next band.
type cycleReport struct {
	store.CycleRow
	RuleName string    `json:"rule_name"`
	BandName string    `json:"band_name,omitempty"`
	NextBand *nextBand `json:"next_band,omitempty"`
}

type nextBand struct {
	Name  string     `json:"name"`
	Needs []distance `json:"needs"`
}

// distance is what a metric must still exceed to reach the next band.
type distance struct {
	Metric        tiered.Metric   `json:"metric"`
	Value         decimal.Decimal `json:"value"`
	MustExceed    decimal.Decimal `json:"must_exceed"`
	StillToExceed decimal.Decimal `json:"still_to_exceed"`
}

func (s *Server) listCommissionCycles(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var p store.Problems
	f := store.CycleFilter{Limit: maxLimit}
	for field, dst := range map[string]*int64{"rule_id": &f.RuleID, "partner_id": &f.PartnerID, "offer_id": &f.OfferID} {
		if v := q.Get(field); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				p.Add(field, "must be a positive integer")
			}
			*dst = n
		}
	}
	if err := p.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	rows, err := s.store.CommissionCycles(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rules := map[int64]tiered.Rule{}
	out := make([]cycleReport, 0, len(rows))
	for _, row := range rows {
		rule, ok := rules[row.RuleID]
		if !ok {
			if rule, err = s.store.TieredRule(r.Context(), row.RuleID); err != nil {
				s.writeError(w, r, err)
				return
			}
			rules[row.RuleID] = rule
		}
		rep := cycleReport{CycleRow: row, RuleName: rule.Name}
		if row.Band >= 0 && row.Band < len(rule.Bands) {
			rep.BandName = rule.Bands[row.Band].Name
		}
		if next := row.Band + 1; next < len(rule.Bands) {
			nb := &nextBand{Name: rule.Bands[next].Name}
			for _, b := range rule.Bands[next].Bounds {
				if b.Min == nil {
					continue
				}
				v := row.Metrics.Value(b.Metric)
				nb.Needs = append(nb.Needs, distance{Metric: b.Metric, Value: v, MustExceed: *b.Min,
					StillToExceed: decimal.Max(decimal.Zero, b.Min.Sub(v))})
			}
			rep.NextBand = nb
		}
		out = append(out, rep)
	}
	writeJSON(w, http.StatusOK, list[cycleReport]{Items: out})
}
