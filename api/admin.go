package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/tierwise/tierwise/store"
)

// adminRoutes is the network-setup API: network settings, advertisers,
// offers, partners, Partner Tiers and custom payout settings.
func (s *Server) adminRoutes(r chi.Router) {
	r.Get("/network", s.getNetwork)
	r.Put("/network", s.putNetwork)

	r.Post("/advertisers", s.createAdvertiser)
	r.Get("/advertisers", s.listAdvertisers)
	r.Get("/advertisers/{id}", s.getAdvertiser)
	r.Patch("/advertisers/{id}", s.patchAdvertiser)
	r.Post("/advertisers/{id}/postback-token", s.rotatePostbackToken)

	r.Post("/offers", s.createOffer)
	r.Get("/offers", s.listOffers)
	r.Get("/offers/{id}", s.getOffer)
	r.Patch("/offers/{id}", s.patchOffer)

	r.Post("/partners", s.createPartner)
	r.Get("/partners", s.listPartners)
	r.Get("/partners/{id}", s.getPartner)
	r.Patch("/partners/{id}", s.patchPartner)
	r.Get("/partners/{id}/approvals", s.listApprovals)
	r.Put("/partners/{id}/approvals/{offer_id}", s.approveOffer)
	r.Delete("/partners/{id}/approvals/{offer_id}", s.revokeApproval)
	r.Post("/partners/{id}/api-keys", s.createPartnerKey)
	r.Get("/approval-requests", s.listApprovalRequests)

	s.tierRoutes(r)
	s.customPayoutRoutes(r)
}

// listApprovalRequests lists partners' requests to run require-approval
// offers that are not granted yet, oldest first.
func (s *Server) listApprovalRequests(w http.ResponseWriter, r *http.Request) {
	p, _, err := filters(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	reqs, err := s.store.ApprovalRequests(r.Context(), p.Limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if reqs == nil {
		reqs = []store.ApprovalRequest{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": reqs})
}

// filters reads the page and the named numeric query filters (0 when
// absent), reporting every bad one at once.
func filters(r *http.Request, names ...string) (page, map[string]int64, error) {
	var problems store.Problems
	p, err := parsePage(r)
	var invalid *store.InvalidError
	if errors.As(err, &invalid) {
		problems = append(problems, invalid.Problems...)
	} else if err != nil {
		return p, nil, err
	}
	values := make(map[string]int64, len(names))
	for _, name := range names {
		v := r.URL.Query().Get(name)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			problems.Add(name, "must be a positive integer, got %q", v)
			continue
		}
		values[name] = n
	}
	return p, values, problems.Err()
}

// storePage is the store page that fetches one more item than p asks for, so
// newList knows whether another page follows.
func storePage(p page) store.Page {
	return store.Page{After: p.After, Limit: p.Limit + 1}
}

// Network settings.

func (s *Server) getNetwork(w http.ResponseWriter, r *http.Request) {
	n, err := s.store.Network(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, n)
}

func (s *Server) putNetwork(w http.ResponseWriter, r *http.Request) {
	var in store.NetworkInput
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	n, err := s.store.UpdateNetwork(r.Context(), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, n)
}

// Advertisers.

// advertiserWithToken is an advertiser with its postback token, shown once.
type advertiserWithToken struct {
	store.Advertiser
	PostbackToken string `json:"postback_token"`
}

func (s *Server) createAdvertiser(w http.ResponseWriter, r *http.Request) {
	var in store.AdvertiserInput
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	a, token, err := s.store.CreateAdvertiser(r.Context(), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, advertiserWithToken{a, token})
}

func (s *Server) listAdvertisers(w http.ResponseWriter, r *http.Request) {
	p, _, err := filters(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	as, err := s.store.Advertisers(r.Context(), storePage(p))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newList(as, p, func(a store.Advertiser) int64 { return a.ID }))
}

func (s *Server) getAdvertiser(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	a, err := s.store.Advertiser(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) patchAdvertiser(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in store.AdvertiserPatch
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	a, err := s.store.UpdateAdvertiser(r.Context(), id, in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) rotatePostbackToken(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	a, token, err := s.store.RotatePostbackToken(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, advertiserWithToken{a, token})
}

// Offers.

func (s *Server) createOffer(w http.ResponseWriter, r *http.Request) {
	var in store.OfferInput
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	o, err := s.store.CreateOffer(r.Context(), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, o)
}

func (s *Server) listOffers(w http.ResponseWriter, r *http.Request) {
	p, f, err := filters(r, "advertiser_id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	offers, err := s.store.Offers(r.Context(), store.OfferFilter{AdvertiserID: f["advertiser_id"], Page: storePage(p)})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newList(offers, p, func(o store.Offer) int64 { return o.ID }))
}

func (s *Server) getOffer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	o, err := s.store.Offer(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

func (s *Server) patchOffer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in store.OfferPatch
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	o, err := s.store.UpdateOffer(r.Context(), id, in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

// Partners.

func (s *Server) createPartner(w http.ResponseWriter, r *http.Request) {
	var in store.PartnerInput
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.store.CreatePartner(r.Context(), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, p)
}

func (s *Server) listPartners(w http.ResponseWriter, r *http.Request) {
	p, f, err := filters(r, "tier_id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ps, err := s.store.Partners(r.Context(), store.PartnerFilter{TierID: f["tier_id"], Page: storePage(p)})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newList(ps, p, func(p store.Partner) int64 { return p.ID }))
}

func (s *Server) getPartner(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.store.Partner(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) patchPartner(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in store.PartnerPatch
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.store.UpdatePartner(r.Context(), id, in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// pathIDs reads two numeric ids from the URL path, reporting both if bad.
func pathIDs(r *http.Request, a, b string) (int64, int64, error) {
	var problems store.Problems
	ids := [2]int64{}
	for i, name := range []string{a, b} {
		id, err := pathID(r, name)
		var invalid *store.InvalidError
		if errors.As(err, &invalid) {
			problems = append(problems, invalid.Problems...)
		}
		ids[i] = id
	}
	return ids[0], ids[1], problems.Err()
}

func (s *Server) listApprovals(w http.ResponseWriter, r *http.Request) {
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
	as, err := s.store.Approvals(r.Context(), id, storePage(p))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newList(as, p, func(a store.Approval) int64 { return a.OfferID }))
}

func (s *Server) approveOffer(w http.ResponseWriter, r *http.Request) {
	partner, offer, err := pathIDs(r, "id", "offer_id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	a, err := s.store.ApproveOffer(r.Context(), partner, offer)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) revokeApproval(w http.ResponseWriter, r *http.Request) {
	partner, offer, err := pathIDs(r, "id", "offer_id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.RevokeApproval(r.Context(), partner, offer); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// apiKeyRequest names a new key.
type apiKeyRequest struct {
	Name string `json:"name"`
}

// apiKeyWithSecret is a new key with its secret, shown once.
type apiKeyWithSecret struct {
	store.APIKey
	Secret string `json:"secret"`
}

func (s *Server) createPartnerKey(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in apiKeyRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &in); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	k, secret, err := s.store.CreateAPIKey(r.Context(), store.KeyPartner, id, in.Name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, apiKeyWithSecret{k, secret})
}
