package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/tierwise/tierwise/store"
)

// tierRoutes is the Partner Tiers API (seed 002).
func (s *Server) tierRoutes(r chi.Router) {
	r.Post("/tiers", s.createTier)
	r.Get("/tiers", s.listTiers)
	r.Get("/tiers/{id}", s.getTier)
	r.Patch("/tiers/{id}", s.patchTier)
	r.Delete("/tiers/{id}", s.deleteTier)
	r.Put("/tiers/{id}/partners", s.setTierPartners)
	r.Put("/tiers/{id}/offers/{offer_id}", s.setTierOffer)
	r.Delete("/tiers/{id}/offers/{offer_id}", s.removeTierOffer)
	r.Post("/tiers/{id}/make-default", s.makeDefaultTier)
}

// customPayoutRoutes is the custom payout settings API.
func (s *Server) customPayoutRoutes(r chi.Router) {
	r.Post("/custom-payouts", s.createCustomPayout)
	r.Get("/custom-payouts", s.listCustomPayouts)
	r.Get("/custom-payouts/{id}", s.getCustomPayout)
	r.Delete("/custom-payouts/{id}", s.deleteCustomPayout)
}

func (s *Server) createTier(w http.ResponseWriter, r *http.Request) {
	var in store.TierInput
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := s.store.CreateTier(r.Context(), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, t)
}

func (s *Server) listTiers(w http.ResponseWriter, r *http.Request) {
	p, _, err := filters(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ts, err := s.store.Tiers(r.Context(), storePage(p))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newList(ts, p, func(t store.PartnerTier) int64 { return t.ID }))
}

func (s *Server) getTier(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := s.store.Tier(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) patchTier(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in store.TierPatch
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := s.store.UpdateTier(r.Context(), id, in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) deleteTier(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.DeleteTier(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) setTierPartners(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in store.TierPartnersInput
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := s.store.SetTierPartners(r.Context(), id, in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) setTierOffer(w http.ResponseWriter, r *http.Request) {
	tier, offer, err := pathIDs(r, "id", "offer_id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in store.TierOfferInput
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	to, err := s.store.SetTierOffer(r.Context(), tier, offer, in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, to)
}

func (s *Server) removeTierOffer(w http.ResponseWriter, r *http.Request) {
	tier, offer, err := pathIDs(r, "id", "offer_id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.RemoveTierOffer(r.Context(), tier, offer); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) makeDefaultTier(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := s.store.MakeDefaultTier(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) createCustomPayout(w http.ResponseWriter, r *http.Request) {
	var in store.CustomPayoutInput
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.store.CreateCustomPayout(r.Context(), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, c)
}

func (s *Server) listCustomPayouts(w http.ResponseWriter, r *http.Request) {
	p, f, err := filters(r, "offer_id", "partner_id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cs, err := s.store.CustomPayouts(r.Context(), store.CustomPayoutFilter{
		OfferID: f["offer_id"], PartnerID: f["partner_id"], Page: storePage(p),
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newList(cs, p, func(c store.CustomPayout) int64 { return c.ID }))
}

func (s *Server) getCustomPayout(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.store.CustomPayout(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) deleteCustomPayout(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.DeleteCustomPayout(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
