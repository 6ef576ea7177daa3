package console

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/go-chi/chi/v5"
	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/reports"
	"github.com/tierwise/tierwise/store"
)

func (s *Server) tierRoutes(r chi.Router) {
	r.Get("/tiers", s.tiers)
	r.Post("/tiers", s.createTier)
	r.Get("/tiers/{id}", s.tier)
	r.Post("/tiers/{id}", s.updateTier)
	r.Post("/tiers/{id}/make-default", s.makeDefaultTier)
	r.Post("/tiers/{id}/delete", s.deleteTier)
	r.Post("/tiers/{id}/partners/add", s.addTierPartners)
	r.Post("/tiers/{id}/partners/remove", s.removeTierPartners)
	r.Post("/tiers/{id}/offers", s.addTierOffer)
	r.Post("/tiers/{id}/offers/{offer_id}", s.setTierOffer)
	r.Post("/tiers/{id}/offers/{offer_id}/remove", s.removeTierOffer)

	r.Get("/custom-payouts", s.customPayouts)
	r.Post("/custom-payouts", s.createCustomPayout)
	r.Post("/custom-payouts/{id}/delete", s.deleteCustomPayout)
}

type tiersData struct {
	Tiers    []store.PartnerTier
	Partners []store.Partner
	TierName map[int64]string
}

func (s *Server) tiers(w http.ResponseWriter, r *http.Request) {
	s.tiersPage(w, r, http.StatusOK, s.view(r, "Partner Tiers", "tiers").withFlash(w, r))
}

func (s *Server) tiersPage(w http.ResponseWriter, r *http.Request, status int, v *view) {
	tiers, err := s.store.Tiers(r.Context(), store.Page{Limit: listLimit})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	partners, err := s.store.Partners(r.Context(), store.PartnerFilter{Page: store.Page{Limit: listLimit}})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	d := tiersData{Tiers: tiers, Partners: partners, TierName: map[int64]string{}}
	for _, t := range tiers {
		d.TierName[t.ID] = t.Name
	}
	v.Data = d
	s.render(w, r, status, "tiers", v)
}

var tierFields = []string{"name", "status", "margin", "description", "partner_ids", "partner_ids[*", "is_default"}

func (s *Server) createTier(w http.ResponseWriter, r *http.Request) {
	f := readForm(r)
	in := store.TierInput{Name: f.str("name"), Status: f.str("status"), Description: f.str("description"),
		Margin: f.dec("margin"), PartnerIDs: f.ids("partner_ids"), IsDefault: f.checked("is_default")}
	err := f.check(in)
	var t store.TierDetail
	if err == nil {
		t, err = s.store.CreateTier(r.Context(), in)
	}
	if err != nil {
		v := s.view(r, "Partner Tiers", "tiers")
		v.Form = f.values
		var invalid *store.InvalidError
		if errors.As(err, &invalid) {
			v.problems(invalid.Problems, tierFields)
			s.tiersPage(w, r, http.StatusBadRequest, v)
			return
		}
		s.errorPage(w, r, err)
		return
	}
	s.redirect(w, r, fmt.Sprintf("/tiers/%d", t.ID), "Tier "+strconv.Quote(t.Name)+" created. Add its offers below.")
}

type tierData struct {
	Tier store.TierDetail
	// Offers are the tier's offers with what its members get.
	Offers []tierOfferRow
	// Unlisted are the offers the tier does not list yet.
	Unlisted []store.Offer
	Members  []store.Partner
	// Candidates are the partners that may join, by Filter: "unplaced"
	// (still in the default tier, the seed's "not part of a tier") or "all"
	// (every partner of another tier).
	Candidates []store.Partner
	Filter     string
	TierName   map[int64]string
	Default    store.PartnerTier
}

// tierOfferRow is an offer of a tier and the payout its members get.
type tierOfferRow struct {
	store.TierOffer
	TierID int64
	// Effect says in words what the toggles do to each event's payout.
	Effect []string
	Saved  bool
}

func (s *Server) tier(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	s.tierPage(w, r, http.StatusOK, id, s.view(r, "Partner Tier", "tiers").withFlash(w, r))
}

func (s *Server) tierPage(w http.ResponseWriter, r *http.Request, status int, id int64, v *view) {
	ctx := r.Context()
	t, err := s.store.Tier(ctx, id)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	offers, err := s.store.Offers(ctx, store.OfferFilter{Page: store.Page{Limit: listLimit}})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	tiers, err := s.store.Tiers(ctx, store.Page{Limit: listLimit})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	partners, err := s.store.Partners(ctx, store.PartnerFilter{Page: store.Page{Limit: listLimit}})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	d := tierData{Tier: t, TierName: map[int64]string{}, Filter: r.URL.Query().Get("candidates")}
	if d.Filter != "all" {
		d.Filter = "unplaced"
	}
	for _, tt := range tiers {
		d.TierName[tt.ID] = tt.Name
		if tt.IsDefault {
			d.Default = tt
		}
	}
	byID := map[int64]store.Offer{}
	for _, o := range offers {
		byID[o.ID] = o
		if !slices.ContainsFunc(t.Offers, func(to store.TierOffer) bool { return to.OfferID == o.ID }) {
			d.Unlisted = append(d.Unlisted, o)
		}
	}
	for _, to := range t.Offers {
		d.Offers = append(d.Offers, tierOfferRow{TierOffer: to, TierID: t.ID, Effect: marginEffect(t.PartnerTier, to, byID[to.OfferID])})
	}
	for _, p := range partners {
		switch {
		case p.TierID == t.ID:
			d.Members = append(d.Members, p)
		case d.Filter == "all" || p.TierID == d.Default.ID:
			d.Candidates = append(d.Candidates, p)
		}
	}
	v.Title = t.Name
	if len(v.Form) == 0 {
		v.Form.Set("name", t.Name)
		v.Form.Set("status", t.Status)
		v.Form.Set("margin", t.Margin.String())
		v.Form.Set("description", t.Description)
	}
	v.Data = d
	s.render(w, r, status, "tier", v)
}

// marginEffect says what the tier's toggles give its members on each event
// of the offer, the way pricing computes it (DESIGN §5.2): with "apply
// margin" on, (100 − margin)% of the revenue.
func marginEffect(t store.PartnerTier, to store.TierOffer, o store.Offer) []string {
	var out []string
	share := decimal.NewFromInt(100).Sub(t.Margin)
	for _, e := range o.Events {
		name := "base"
		if e.Event != "" {
			name = e.Event
		}
		if !to.ApplyMargin {
			out = append(out, fmt.Sprintf("%s: the offer's payout, %s", name, rateWords(string(e.Payout.Type), e.Payout.Amount, e.Payout.Percent, o.Currency)))
			continue
		}
		if t.Status != store.TierActive {
			out = append(out, fmt.Sprintf("%s: no margin while the tier is inactive", name))
			continue
		}
		if e.Revenue.Type == pricing.RevenueRPA {
			payout := pricing.Round(e.Revenue.Amount.Mul(share).Shift(-2), o.Currency)
			out = append(out, fmt.Sprintf("%s: %s%% of the %s revenue = %s", name, share, reports.Money(e.Revenue.Amount, o.Currency), reports.Money(payout, o.Currency)))
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s%% of the revenue (%s)", name, share, rateWords(string(e.Revenue.Type), e.Revenue.Amount, e.Revenue.Percent, o.Currency)))
	}
	return out
}

func (s *Server) updateTier(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	f := readForm(r)
	margin := f.dec("margin")
	in := store.TierPatch{Name: f.optStr("name"), Status: f.optStr("status"), Description: f.optStr("description"), Margin: &margin}
	err = f.check(in)
	if err == nil {
		_, err = s.store.UpdateTier(r.Context(), id, in)
	}
	if err != nil {
		v := s.view(r, "Partner Tier", "tiers")
		v.Form = f.values
		var invalid *store.InvalidError
		switch {
		case errors.As(err, &invalid):
			v.problems(invalid.Problems, tierFields)
			s.tierPage(w, r, http.StatusBadRequest, id, v)
		case errors.Is(err, store.ErrConflict):
			v.Alerts = append(v.Alerts, conflictMessage(err))
			s.tierPage(w, r, http.StatusConflict, id, v)
		default:
			s.errorPage(w, r, err)
		}
		return
	}
	s.redirect(w, r, fmt.Sprintf("/tiers/%d", id), "Tier saved.")
}

func (s *Server) makeDefaultTier(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if _, err := s.store.MakeDefaultTier(r.Context(), id); err != nil {
		s.tierFailed(w, r, id, err)
		return
	}
	s.redirect(w, r, fmt.Sprintf("/tiers/%d", id), "This is now the default tier: new partners join it.")
}

func (s *Server) deleteTier(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if err := s.store.DeleteTier(r.Context(), id); err != nil {
		s.tierFailed(w, r, id, err)
		return
	}
	s.redirect(w, r, "/tiers", "Tier deleted; its partners are back in the default tier.")
}

// tierFailed shows the tier page with a conflict, or the error page.
func (s *Server) tierFailed(w http.ResponseWriter, r *http.Request, id int64, err error) {
	if errors.Is(err, store.ErrConflict) {
		v := s.view(r, "Partner Tier", "tiers")
		v.Alerts = append(v.Alerts, conflictMessage(err))
		s.tierPage(w, r, http.StatusConflict, id, v)
		return
	}
	s.errorPage(w, r, err)
}

// setMembers makes the tier's members current ∪ add − remove.
func (s *Server) setMembers(w http.ResponseWriter, r *http.Request, add bool) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	f := readForm(r)
	picked := f.ids("partner_ids")
	if err := f.err(); err != nil {
		s.errorPage(w, r, err)
		return
	}
	t, err := s.store.Tier(r.Context(), id)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	members := slices.Clone(t.PartnerIDs)
	if add {
		for _, p := range picked {
			if !slices.Contains(members, p) {
				members = append(members, p)
			}
		}
	} else {
		members = slices.DeleteFunc(members, func(p int64) bool { return slices.Contains(picked, p) })
	}
	if members == nil {
		members = []int64{}
	}
	if _, err := s.store.SetTierPartners(r.Context(), id, store.TierPartnersInput{PartnerIDs: members}); err != nil {
		var invalid *store.InvalidError
		if errors.As(err, &invalid) {
			v := s.view(r, "Partner Tier", "tiers")
			v.problems(invalid.Problems, nil)
			s.tierPage(w, r, http.StatusBadRequest, id, v)
			return
		}
		s.tierFailed(w, r, id, err)
		return
	}
	msg := fmt.Sprintf("%d %s added to the tier.", len(picked), plural(len(picked), "partner", "partners"))
	if !add {
		msg = fmt.Sprintf("%d %s moved back to the default tier.", len(picked), plural(len(picked), "partner", "partners"))
	}
	s.redirect(w, r, fmt.Sprintf("/tiers/%d", id), msg)
}

func (s *Server) addTierPartners(w http.ResponseWriter, r *http.Request) { s.setMembers(w, r, true) }
func (s *Server) removeTierPartners(w http.ResponseWriter, r *http.Request) {
	s.setMembers(w, r, false)
}

func (s *Server) addTierOffer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	f := readForm(r)
	offer := f.id("offer_id")
	if f.err() != nil || offer == 0 {
		v := s.view(r, "Partner Tier", "tiers")
		v.Errors["offer_id"] = []string{"Choose an offer to add."}
		s.tierPage(w, r, http.StatusBadRequest, id, v)
		return
	}
	in := store.TierOfferInput{AutoApprove: f.checked("auto_approve"), ApplyMargin: f.checked("apply_margin")}
	if _, err := s.store.SetTierOffer(r.Context(), id, offer, in); err != nil {
		s.errorPage(w, r, err)
		return
	}
	s.redirect(w, r, fmt.Sprintf("/tiers/%d", id), "Offer added to the tier.")
}

// setTierOffer saves a listed offer's two toggles. From htmx it answers the
// offer's row, so a toggle saves in place; without JavaScript the row's
// Save button posts it and the page reloads.
func (s *Server) setTierOffer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	offerID, err := pathID(r, "offer_id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	f := readForm(r)
	in := store.TierOfferInput{AutoApprove: f.checked("auto_approve"), ApplyMargin: f.checked("apply_margin")}
	to, err := s.store.SetTierOffer(r.Context(), id, offerID, in)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if r.Header.Get("HX-Request") == "" {
		s.redirect(w, r, fmt.Sprintf("/tiers/%d", id), "Offer toggles saved.")
		return
	}
	t, err := s.store.Tier(r.Context(), id)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	o, err := s.store.Offer(r.Context(), offerID)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	v := s.view(r, t.Name, "tiers")
	v.Data = tierOfferRow{TierOffer: to, TierID: id, Effect: marginEffect(t.PartnerTier, to, o), Saved: true}
	s.renderFragment(w, r, "tier", "tier-offer", v)
}

func (s *Server) removeTierOffer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	offerID, err := pathID(r, "offer_id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if err := s.store.RemoveTierOffer(r.Context(), id, offerID); err != nil {
		s.errorPage(w, r, err)
		return
	}
	s.redirect(w, r, fmt.Sprintf("/tiers/%d", id), "Offer removed from the tier: its members get the offer's own payout and visibility.")
}

// Custom payouts.

type customPayoutsData struct {
	Groups   []customGroup
	Offers   []store.Offer
	Partners []store.Partner
	Names    map[int64]string // partners
	Offer    int64
}

// customGroup is the settings of one offer event in conflict order.
type customGroup struct {
	OfferID   int64
	OfferName string
	Currency  string
	Event     string
	Settings  []customRow
}

// customRow is a setting with its rank and why it ranks above the next.
type customRow struct {
	store.CustomPayout
	Rank  int
	Above string
}

func (s *Server) customPayouts(w http.ResponseWriter, r *http.Request) {
	s.customPayoutsPage(w, r, http.StatusOK, s.view(r, "Custom payouts", "custompayouts").withFlash(w, r))
}

func (s *Server) customPayoutsPage(w http.ResponseWriter, r *http.Request, status int, v *view) {
	ctx := r.Context()
	offerID, _ := strconv.ParseInt(r.URL.Query().Get("offer_id"), 10, 64)
	settings, err := s.store.CustomPayouts(ctx, store.CustomPayoutFilter{OfferID: offerID, Page: store.Page{Limit: listLimit}})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	offers, err := s.store.Offers(ctx, store.OfferFilter{Page: store.Page{Limit: listLimit}})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	partners, err := s.store.Partners(ctx, store.PartnerFilter{Page: store.Page{Limit: listLimit}})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	d := customPayoutsData{Offers: offers, Partners: partners, Names: map[int64]string{}, Offer: offerID}
	for _, p := range partners {
		d.Names[p.ID] = p.Name
	}
	offerByID := map[int64]store.Offer{}
	for _, o := range offers {
		offerByID[o.ID] = o
	}
	d.Groups = conflictGroups(settings, offerByID)
	v.Data = d
	s.render(w, r, status, "custompayouts", v)
}

// conflictGroups groups settings by offer event, each group in the order
// pricing ranks them, with the rule that puts each above the next.
func conflictGroups(settings []store.CustomPayout, offers map[int64]store.Offer) []customGroup {
	type key struct {
		offer int64
		event string
	}
	byKey := map[key][]store.CustomPayout{}
	var keys []key
	for _, c := range settings {
		k := key{c.OfferID, c.Event}
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], c)
	}
	var groups []customGroup
	for _, k := range keys {
		cs := byKey[k]
		ranked := make([]pricing.CustomSetting, len(cs))
		byID := map[int64]store.CustomPayout{}
		for i, c := range cs {
			ranked[i] = c.Setting()
			byID[c.ID] = c
		}
		pricing.SortByConflictOrder(ranked)
		g := customGroup{OfferID: k.offer, OfferName: offers[k.offer].Name, Currency: offers[k.offer].Currency, Event: k.event}
		for i, st := range ranked {
			row := customRow{CustomPayout: byID[st.ID], Rank: i + 1}
			if i+1 < len(ranked) {
				row.Above = pricing.ConflictRule(st, ranked[i+1])
			}
			g.Settings = append(g.Settings, row)
		}
		groups = append(groups, g)
	}
	return groups
}

var customPayoutFields = []string{"partner_id", "offer_id", "event", "payout", "payout.*", "revenue", "revenue.*", "starts_at", "ends_at"}

func (s *Server) createCustomPayout(w http.ResponseWriter, r *http.Request) {
	f := readForm(r)
	v := s.view(r, "Custom payouts", "custompayouts")
	in := store.CustomPayoutInput{PartnerID: f.optID("partner_id"), OfferID: f.id("offer_id"), Event: f.str("event"),
		StartsAt: f.localTime("starts_at", v.Loc), EndsAt: f.localTime("ends_at", v.Loc)}
	if t := f.str("payout.type"); t != "" {
		in.Payout = &pricing.PayoutRate{Type: pricing.PayoutType(t), Amount: f.dec("payout.amount"), Percent: f.dec("payout.percent")}
	}
	if t := f.str("revenue.type"); t != "" {
		in.Revenue = &pricing.RevenueRate{Type: pricing.RevenueType(t), Amount: f.dec("revenue.amount"), Percent: f.dec("revenue.percent")}
	}
	err := f.check(in)
	if err == nil {
		_, err = s.store.CreateCustomPayout(r.Context(), in)
	}
	if err != nil {
		v.Form = f.values
		var invalid *store.InvalidError
		if errors.As(err, &invalid) {
			v.problems(invalid.Problems, customPayoutFields)
			s.customPayoutsPage(w, r, http.StatusBadRequest, v)
			return
		}
		s.errorPage(w, r, err)
		return
	}
	s.redirect(w, r, "/custom-payouts", "Custom payout setting created.")
}

func (s *Server) deleteCustomPayout(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if err := s.store.DeleteCustomPayout(r.Context(), id); err != nil {
		s.errorPage(w, r, err)
		return
	}
	s.redirect(w, r, "/custom-payouts", "Setting deleted. Conversions priced with it keep their amounts and explanations.")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
