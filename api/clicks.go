package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tierwise/tierwise/store"
)

// clickRoutes is the public click endpoint behind partners' tracking links.
func (s *Server) clickRoutes(r chi.Router) {
	r.Get("/click", s.click)
}

// partnerRoutes is the API partners call with their own key.
func (s *Server) partnerRoutes(r chi.Router) {
	r.Get("/partner/offers", s.partnerOffers)
	r.Post("/partner/offers/{id}/approval-request", s.requestApproval)
	r.Get("/partner/conversions", s.partnerConversions)
	r.Get("/partner/conversions/{id}", s.partnerConversion)
	r.Get("/partner/earnings", s.partnerEarnings)
	r.Get("/partner/cycles", s.partnerCycles)
}

// click records a click and redirects the visitor to the offer's
// destination. A partner who may not run the offer gets a 403 that says only
// that the link is not active: the caller is anonymous and must not learn
// that a partner is suspended or an offer private. The reason is logged.
func (s *Server) click(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var problems store.Problems
	ids := map[string]int64{}
	for _, name := range []string{"offer_id", "partner_id"} {
		v := q.Get(name)
		if v == "" {
			continue // the store reports it missing
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			problems.Add(name, "must be a positive integer, got %q", v)
		}
		ids[name] = n
	}
	in := store.ClickInput{OfferID: ids["offer_id"], PartnerID: ids["partner_id"], SourceID: q.Get("source_id")}
	for i := range in.Subs {
		in.Subs[i] = q.Get("sub" + strconv.Itoa(i+1))
	}
	if err := problems.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	_, destination, err := s.store.RecordClick(r.Context(), in)
	if errors.Is(err, store.ErrNotAllowed) {
		s.logger.InfoContext(r.Context(), "click refused", "offer_id", in.OfferID, "partner_id", in.PartnerID, "reason", err.Error())
		s.writeError(w, r, errInactiveLink)
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, destination, http.StatusFound)
}

// errInactiveLink is the public answer to a tracking link that cannot be
// followed.
var errInactiveLink = fmt.Errorf("this tracking link is not active: %w", errForbidden)

// partnerOffers lists the offers the calling partner may run with the payout
// it gets for each event now.
func (s *Server) partnerOffers(w http.ResponseWriter, r *http.Request) {
	p, _, err := filters(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	offers, err := s.store.PartnerOffers(r.Context(), partnerID(r), time.Now(), storePage(p))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	base := s.publicURL(r)
	for i := range offers {
		if offers[i].TrackingURL != "" {
			offers[i].TrackingURL = base + offers[i].TrackingURL
		}
	}
	writeJSON(w, http.StatusOK, newList(offers, p, func(o store.PartnerOffer) int64 { return o.ID }))
}

// publicURL is the address partners' tracking links point at: PUBLIC_URL
// when configured, else the address this request came to.
func (s *Server) publicURL(r *http.Request) string {
	if s.publicBase != "" {
		return s.publicBase
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

type approvalRequestInput struct {
	Note string `json:"note"`
}

// requestApproval records the calling partner's request to run a
// require-approval offer; an admin grants it with PUT
// /partners/{id}/approvals/{offer_id}.
func (s *Server) requestApproval(w http.ResponseWriter, r *http.Request) {
	offerID, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in approvalRequestInput
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &in); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	req, err := s.store.RequestApproval(r.Context(), partnerID(r), offerID, in.Note)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, req)
}
