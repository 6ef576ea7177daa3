package console

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/reports"
	"github.com/tierwise/tierwise/store"
)

func (s *Server) networkRoutes(r chi.Router) {
	r.Get("/advertisers", s.advertisers)
	r.Post("/advertisers", s.createAdvertiser)
	r.Get("/advertisers/{id}", s.advertiser)
	r.Post("/advertisers/{id}", s.updateAdvertiser)
	r.Post("/advertisers/{id}/rotate-token", s.rotateToken)

	r.Get("/offers", s.offers)
	r.Get("/offers/new", s.newOffer)
	r.Post("/offers", s.createOffer)
	r.Get("/offers/{id}", s.offer)
	r.Post("/offers/{id}", s.updateOffer)

	r.Get("/partners", s.partners)
	r.Post("/partners", s.createPartner)
	r.Get("/partners/{id}", s.partner)
	r.Post("/partners/{id}", s.updatePartner)
	r.Post("/partners/{id}/approvals", s.approvePartner)
	r.Post("/partners/{id}/approvals/{offer_id}/revoke", s.revokeApproval)
	r.Post("/partners/{id}/keys", s.createPartnerKey)
	r.Post("/partners/{id}/keys/{key_id}/revoke", s.revokePartnerKey)
}

// listLimit bounds the lists behind a page's choices (the offers of a
// select, the partners of a tier's picker): past it, pages and filters.
const listLimit = 500

// pathID reads a numeric id from the path; a bad one is a 404.
func pathID(r *http.Request, name string) (int64, error) {
	n, err := strconv.ParseInt(chi.URLParam(r, name), 10, 64)
	if err != nil || n <= 0 {
		return 0, store.NotFound(name, chi.URLParam(r, name))
	}
	return n, nil
}

// after reads the page cursor of a list.
func after(r *http.Request) int64 {
	n, err := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// pageSize is how many rows a page of a list shows.
const pageSize = 50

// cut trims a list fetched with one extra row and returns the cursor of
// the next page (0 on the last).
func cut[T any](items []T, id func(T) int64) ([]T, int64) {
	if len(items) > pageSize {
		items = items[:pageSize]
		return items, id(items[pageSize-1])
	}
	return items, 0
}

// Advertisers.

type advertisersData struct {
	Advertisers []store.Advertiser
	Next        int64
}

func (s *Server) advertisers(w http.ResponseWriter, r *http.Request) {
	s.advertisersPage(w, r, http.StatusOK, s.view(r, "Advertisers", "advertisers").withFlash(w, r))
}

func (s *Server) advertisersPage(w http.ResponseWriter, r *http.Request, status int, v *view) {
	as, err := s.store.Advertisers(r.Context(), store.Page{After: after(r), Limit: pageSize + 1})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	d := advertisersData{}
	d.Advertisers, d.Next = cut(as, func(a store.Advertiser) int64 { return a.ID })
	v.Data = d
	s.render(w, r, status, "advertisers", v)
}

var advertiserFields = []string{"name", "status"}

func (s *Server) createAdvertiser(w http.ResponseWriter, r *http.Request) {
	f := readForm(r)
	v := s.view(r, "Advertisers", "advertisers")
	v.Form = f.values
	in := store.AdvertiserInput{Name: f.str("name"), Status: f.str("status")}
	err := f.check(in)
	var a store.Advertiser
	var token string
	if err == nil {
		a, token, err = s.store.CreateAdvertiser(r.Context(), in)
	}
	var invalid *store.InvalidError
	if errors.As(err, &invalid) {
		v.problems(invalid.Problems, advertiserFields)
		s.advertisersPage(w, r, http.StatusBadRequest, v)
		return
	}
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	v = s.view(r, a.Name, "advertisers")
	v.Flash = "Advertiser " + strconv.Quote(a.Name) + " created."
	v.Secret, v.SecretLabel = token, "The postback token of "+a.Name+"."
	s.advertiserPage(w, r, http.StatusCreated, a.ID, v)
}

type advertiserData struct {
	Advertiser store.Advertiser
	Offers     []store.Offer
	DataPoints []store.DataPoint
	// Token is the postback token when it was just created or rotated.
	Token string
}

// PostbackURL is the postback URL for the advertiser's developers, with
// the token when it is shown and the parameters as placeholders.
func (d advertiserData) PostbackURL(base string, byClick bool) string {
	token := d.Token
	if token == "" {
		token = "YOUR_POSTBACK_TOKEN"
	}
	who := "transaction_id={transaction_id}"
	if !byClick {
		who = "offer_id={offer_id}&partner_id={partner_id}"
	}
	u := base + "/postback?token=" + token + "&" + who + "&user_id={user_id}&event={event}&amount={amount}&order_id={order_id}"
	for _, dp := range d.DataPoints {
		u += "&" + dp.Identifier + "={" + dp.Identifier + "}"
	}
	return u
}

func (s *Server) advertiser(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	s.advertiserPage(w, r, http.StatusOK, id, s.view(r, "Advertiser", "advertisers").withFlash(w, r))
}

func (s *Server) advertiserPage(w http.ResponseWriter, r *http.Request, status int, id int64, v *view) {
	a, err := s.store.Advertiser(r.Context(), id)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	offers, err := s.store.Offers(r.Context(), store.OfferFilter{AdvertiserID: id, Page: store.Page{Limit: listLimit}})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	dps, err := s.store.ActiveDataPoints(r.Context())
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	v.Title = a.Name
	if len(v.Form) == 0 {
		v.Form.Set("name", a.Name)
		v.Form.Set("status", a.Status)
	}
	v.Data = advertiserData{Advertiser: a, Offers: offers, DataPoints: dps, Token: v.Secret}
	s.render(w, r, status, "advertiser", v)
}

func (s *Server) updateAdvertiser(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	f := readForm(r)
	in := store.AdvertiserPatch{Name: f.optStr("name"), Status: f.optStr("status")}
	err = f.check(in)
	if err == nil {
		_, err = s.store.UpdateAdvertiser(r.Context(), id, in)
	}
	if err != nil {
		v := s.view(r, "Advertiser", "advertisers")
		v.Form = f.values
		var invalid *store.InvalidError
		if errors.As(err, &invalid) {
			v.problems(invalid.Problems, advertiserFields)
			s.advertiserPage(w, r, http.StatusBadRequest, id, v)
			return
		}
		s.errorPage(w, r, err)
		return
	}
	s.redirect(w, r, fmt.Sprintf("/advertisers/%d", id), "Advertiser saved.")
}

// rotateToken gives the advertiser a new postback token and shows it once;
// the old one stops working at once.
func (s *Server) rotateToken(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	a, token, err := s.store.RotatePostbackToken(r.Context(), id)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	v := s.view(r, a.Name, "advertisers")
	v.Flash = "New postback token made: the old one no longer works."
	v.Secret, v.SecretLabel = token, "The new postback token of "+a.Name+"."
	s.advertiserPage(w, r, http.StatusOK, id, v)
}

// Offers.

type offersData struct {
	Offers      []store.Offer
	Advertisers map[int64]string
	Next        int64
	Filter      int64
}

func (s *Server) offers(w http.ResponseWriter, r *http.Request) {
	v := s.view(r, "Offers", "offers").withFlash(w, r)
	adv, _ := strconv.ParseInt(r.URL.Query().Get("advertiser_id"), 10, 64)
	offers, err := s.store.Offers(r.Context(), store.OfferFilter{AdvertiserID: adv, Page: store.Page{After: after(r), Limit: pageSize + 1}})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	d := offersData{Filter: adv}
	d.Offers, d.Next = cut(offers, func(o store.Offer) int64 { return o.ID })
	if d.Advertisers, err = s.advertiserNames(r); err != nil {
		s.errorPage(w, r, err)
		return
	}
	v.Form = r.URL.Query()
	v.Data = d
	s.render(w, r, http.StatusOK, "offers", v)
}

// advertiserNames names every advertiser, for choices and tables.
func (s *Server) advertiserNames(r *http.Request) (map[int64]string, error) {
	as, err := s.store.Advertisers(r.Context(), store.Page{Limit: listLimit})
	if err != nil {
		return nil, err
	}
	m := make(map[int64]string, len(as))
	for _, a := range as {
		m[a.ID] = a.Name
	}
	return m, nil
}

// eventRow is one event of the offer form, as typed.
type eventRow struct {
	Index int
	// Key is the index in the fields' names: the Index, or a placeholder
	// in the template of a new row.
	Key                                        string
	Event                                      string
	PayoutType, PayoutAmount, PayoutPercent    string
	RevenueType, RevenueAmount, RevenuePercent string
	Repeatable                                 bool
	// Bad marks the row's fields with problems ("payout.amount").
	Bad map[string]bool
}

// offerForm is the offer form as typed, to show again.
type offerForm struct {
	ID                                                 int64
	AdvertiserID                                       string
	Name, Status, Visibility, Currency, DestinationURL string
	Events                                             []eventRow
}

type offerData struct {
	Form        offerForm
	Offer       *store.Offer
	Advertisers []store.Advertiser
	// Blank is the template of a new event row.
	Blank eventRow
}

// offerFields are the offer form's fields the store names.
var offerFields = []string{"advertiser_id", "name", "status", "visibility", "currency", "destination_url", "events", "events[*"}

func (s *Server) newOffer(w http.ResponseWriter, r *http.Request) {
	v := s.view(r, "New offer", "offers")
	n, err := s.store.Network(r.Context())
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	form := offerForm{AdvertiserID: r.URL.Query().Get("advertiser_id"), Status: store.OfferActive, Visibility: store.VisibilityPublic,
		Currency: n.Currency, Events: []eventRow{{PayoutType: "cpa", RevenueType: "rpa"}}}
	s.offerPage(w, r, http.StatusOK, v, form, nil)
}

func (s *Server) offerPage(w http.ResponseWriter, r *http.Request, status int, v *view, form offerForm, o *store.Offer) {
	as, err := s.store.Advertisers(r.Context(), store.Page{Limit: listLimit})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	for i := range form.Events {
		e := &form.Events[i]
		e.Index, e.Key, e.Bad = i, strconv.Itoa(i), map[string]bool{}
		for field := range v.Errors {
			if rest, ok := strings.CutPrefix(field, fmt.Sprintf("events[%d].", i)); ok {
				e.Bad[rest] = true
			}
		}
	}
	v.Data = offerData{Form: form, Offer: o, Advertisers: as, Blank: eventRow{Key: "__i__", PayoutType: "cpa", RevenueType: "rpa"}}
	s.render(w, r, status, "offer", v)
}

// eventField matches the offer form's event fields: events[2].payout.type.
var eventField = regexp.MustCompile(`^events\[(\d{1,3})\]\.(.+)$`)

// readOfferForm reads the offer form: its events renumbered in the order
// they were listed, so a removed row leaves no gap and every problem
// names the row the form shows.
func readOfferForm(f *form) (offerForm, []store.OfferEvent) {
	of := offerForm{AdvertiserID: f.str("advertiser_id"), Name: f.str("name"), Status: f.str("status"), Visibility: f.str("visibility"),
		Currency: strings.ToUpper(f.str("currency")), DestinationURL: f.str("destination_url")}
	rows := map[int]map[string]string{}
	for name, vs := range f.values {
		m := eventField.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		i, _ := strconv.Atoi(m[1])
		if rows[i] == nil {
			rows[i] = map[string]string{}
		}
		rows[i][m[2]] = strings.TrimSpace(vs[0])
	}
	indexes := make([]int, 0, len(rows))
	for i := range rows {
		indexes = append(indexes, i)
	}
	slices.Sort(indexes)
	var events []store.OfferEvent
	for n, i := range indexes {
		row := rows[i]
		er := eventRow{Index: n, Event: row["event"], PayoutType: row["payout.type"], PayoutAmount: row["payout.amount"],
			PayoutPercent: row["payout.percent"], RevenueType: row["revenue.type"], RevenueAmount: row["revenue.amount"],
			RevenuePercent: row["revenue.percent"], Repeatable: checked(row["repeatable"])}
		of.Events = append(of.Events, er)
		prefix := fmt.Sprintf("events[%d].", n)
		events = append(events, store.OfferEvent{
			Event:      er.Event,
			Payout:     pricing.PayoutRate{Type: pricing.PayoutType(er.PayoutType), Amount: decOf(f, prefix+"payout.amount", er.PayoutAmount), Percent: decOf(f, prefix+"payout.percent", er.PayoutPercent)},
			Revenue:    pricing.RevenueRate{Type: pricing.RevenueType(er.RevenueType), Amount: decOf(f, prefix+"revenue.amount", er.RevenueAmount), Percent: decOf(f, prefix+"revenue.percent", er.RevenuePercent)},
			Repeatable: er.Repeatable,
		})
	}
	return of, events
}

// decOf parses a decimal typed into a renamed field.
func decOf(f *form, field, v string) decimal.Decimal {
	if v == "" {
		return decimal.Zero
	}
	d, err := decimal.NewFromString(v)
	if err != nil || strings.ContainsAny(v, "eE") {
		f.problems.Add(field, "must be a number such as 0.50 or 10, got %q", v)
		return decimal.Zero
	}
	return d
}

func (s *Server) createOffer(w http.ResponseWriter, r *http.Request) {
	f := readForm(r)
	of, events := readOfferForm(f)
	in := store.OfferInput{AdvertiserID: f.id("advertiser_id"), Name: of.Name, Status: of.Status, Visibility: of.Visibility,
		Currency: of.Currency, DestinationURL: of.DestinationURL, Events: events}
	err := f.check(in)
	var o store.Offer
	if err == nil {
		o, err = s.store.CreateOffer(r.Context(), in)
	}
	if err != nil {
		v := s.view(r, "New offer", "offers")
		var invalid *store.InvalidError
		if errors.As(err, &invalid) {
			v.problems(invalid.Problems, offerFields)
			s.offerPage(w, r, http.StatusBadRequest, v, of, nil)
			return
		}
		s.errorPage(w, r, err)
		return
	}
	s.redirect(w, r, fmt.Sprintf("/offers/%d", o.ID), "Offer "+strconv.Quote(o.Name)+" created.")
}

func (s *Server) offer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	o, err := s.store.Offer(r.Context(), id)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	v := s.view(r, o.Name, "offers").withFlash(w, r)
	s.offerPage(w, r, http.StatusOK, v, formOfOffer(o), &o)
}

// formOfOffer fills the offer form from a stored offer.
func formOfOffer(o store.Offer) offerForm {
	of := offerForm{ID: o.ID, AdvertiserID: strconv.FormatInt(o.AdvertiserID, 10), Name: o.Name, Status: o.Status,
		Visibility: o.Visibility, Currency: o.Currency, DestinationURL: o.DestinationURL}
	for _, e := range o.Events {
		of.Events = append(of.Events, eventRow{Event: e.Event,
			PayoutType: string(e.Payout.Type), PayoutAmount: blankZero(e.Payout.Amount), PayoutPercent: blankZero(e.Payout.Percent),
			RevenueType: string(e.Revenue.Type), RevenueAmount: blankZero(e.Revenue.Amount), RevenuePercent: blankZero(e.Revenue.Percent),
			Repeatable: e.Repeatable})
	}
	return of
}

func blankZero(d decimal.Decimal) string {
	if d.IsZero() {
		return ""
	}
	return d.String()
}

func (s *Server) updateOffer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	o, err := s.store.Offer(r.Context(), id)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	f := readForm(r)
	of, events := readOfferForm(f)
	of.ID, of.AdvertiserID = o.ID, strconv.FormatInt(o.AdvertiserID, 10)
	in := store.OfferPatch{Name: &of.Name, Status: &of.Status, Visibility: &of.Visibility, Currency: &of.Currency,
		DestinationURL: &of.DestinationURL, Events: &events}
	err = f.check(in)
	if err == nil {
		_, err = s.store.UpdateOffer(r.Context(), id, in)
	}
	if err != nil {
		v := s.view(r, o.Name, "offers")
		var invalid *store.InvalidError
		switch {
		case errors.As(err, &invalid):
			v.problems(invalid.Problems, offerFields)
			s.offerPage(w, r, http.StatusBadRequest, v, of, &o)
		case errors.Is(err, store.ErrConflict):
			v.Alerts = append(v.Alerts, conflictMessage(err))
			s.offerPage(w, r, http.StatusConflict, v, of, &o)
		default:
			s.errorPage(w, r, err)
		}
		return
	}
	s.redirect(w, r, fmt.Sprintf("/offers/%d", id), "Offer saved.")
}

// Partners.

type partnersData struct {
	Partners []store.Partner
	Tiers    []store.PartnerTier
	TierName map[int64]string
	TierID   int64
	Next     int64
	Default  int64
}

func (s *Server) partners(w http.ResponseWriter, r *http.Request) {
	v := s.view(r, "Partners", "partners").withFlash(w, r)
	s.partnersPage(w, r, http.StatusOK, v)
}

func (s *Server) partnersPage(w http.ResponseWriter, r *http.Request, status int, v *view) {
	tierID, _ := strconv.ParseInt(r.URL.Query().Get("tier_id"), 10, 64)
	ps, err := s.store.Partners(r.Context(), store.PartnerFilter{TierID: tierID, Page: store.Page{After: after(r), Limit: pageSize + 1}})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	tiers, err := s.store.Tiers(r.Context(), store.Page{Limit: listLimit})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	d := partnersData{Tiers: tiers, TierName: map[int64]string{}, TierID: tierID}
	d.Partners, d.Next = cut(ps, func(p store.Partner) int64 { return p.ID })
	for _, t := range tiers {
		d.TierName[t.ID] = t.Name
		if t.IsDefault {
			d.Default = t.ID
		}
	}
	v.Data = d
	s.render(w, r, status, "partners", v)
}

var partnerFields = []string{"name", "status", "tier_id"}

func (s *Server) createPartner(w http.ResponseWriter, r *http.Request) {
	f := readForm(r)
	in := store.PartnerInput{Name: f.str("name"), Status: f.str("status"), TierID: f.optID("tier_id")}
	err := f.check(in)
	var p store.Partner
	if err == nil {
		p, err = s.store.CreatePartner(r.Context(), in)
	}
	if err != nil {
		v := s.view(r, "Partners", "partners")
		v.Form = f.values
		var invalid *store.InvalidError
		if errors.As(err, &invalid) {
			v.problems(invalid.Problems, partnerFields)
			s.partnersPage(w, r, http.StatusBadRequest, v)
			return
		}
		s.errorPage(w, r, err)
		return
	}
	s.redirect(w, r, fmt.Sprintf("/partners/%d", p.ID), "Partner "+strconv.Quote(p.Name)+" created.")
}

type partnerData struct {
	Partner   store.Partner
	Tiers     []store.PartnerTier
	Approvals []store.Approval
	// Approvable are the offers that need an approval (not public).
	Approvable []store.Offer
	OfferName  map[int64]string
	Keys       []store.APIKey
	// Offers is what the partner sees: the offers it may run now and the
	// payout of each event.
	Offers []store.PartnerOffer
}

func (s *Server) partner(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	s.partnerPage(w, r, http.StatusOK, id, s.view(r, "Partner", "partners").withFlash(w, r))
}

func (s *Server) partnerPage(w http.ResponseWriter, r *http.Request, status int, id int64, v *view) {
	ctx := r.Context()
	p, err := s.store.Partner(ctx, id)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	d := partnerData{Partner: p, OfferName: map[int64]string{}}
	if d.Tiers, err = s.store.Tiers(ctx, store.Page{Limit: listLimit}); err == nil {
		if d.Approvals, err = s.store.Approvals(ctx, id, store.Page{Limit: listLimit}); err == nil {
			if d.Keys, err = s.store.APIKeys(ctx, store.APIKeyFilter{Kind: store.KeyPartner, PartnerID: id, Revoked: true, Page: store.Page{Limit: listLimit}}); err == nil {
				d.Offers, err = s.store.PartnerOffers(ctx, id, s.now(), store.Page{Limit: listLimit})
			}
		}
	}
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	offers, err := s.store.Offers(ctx, store.OfferFilter{Page: store.Page{Limit: listLimit}})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	for _, o := range offers {
		d.OfferName[o.ID] = o.Name
		approved := slices.ContainsFunc(d.Approvals, func(a store.Approval) bool { return a.OfferID == o.ID })
		if o.Visibility != store.VisibilityPublic && !approved {
			d.Approvable = append(d.Approvable, o)
		}
	}
	v.Title = p.Name
	if len(v.Form) == 0 {
		v.Form.Set("name", p.Name)
		v.Form.Set("status", p.Status)
		v.Form.Set("tier_id", strconv.FormatInt(p.TierID, 10))
	}
	v.Data = d
	s.render(w, r, status, "partner", v)
}

func (s *Server) updatePartner(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	f := readForm(r)
	in := store.PartnerPatch{Name: f.optStr("name"), Status: f.optStr("status"), TierID: f.optID("tier_id")}
	err = f.check(in)
	if err == nil {
		_, err = s.store.UpdatePartner(r.Context(), id, in)
	}
	if err != nil {
		v := s.view(r, "Partner", "partners")
		v.Form = f.values
		var invalid *store.InvalidError
		if errors.As(err, &invalid) {
			v.problems(invalid.Problems, partnerFields)
			s.partnerPage(w, r, http.StatusBadRequest, id, v)
			return
		}
		s.errorPage(w, r, err)
		return
	}
	s.redirect(w, r, fmt.Sprintf("/partners/%d", id), "Partner saved.")
}

func (s *Server) approvePartner(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	f := readForm(r)
	offer := f.id("offer_id")
	if err := f.err(); err != nil || offer == 0 {
		v := s.view(r, "Partner", "partners")
		v.Errors["offer_id"] = []string{"Choose an offer."}
		s.partnerPage(w, r, http.StatusBadRequest, id, v)
		return
	}
	if _, err := s.store.ApproveOffer(r.Context(), id, offer); err != nil {
		s.errorPage(w, r, err)
		return
	}
	s.redirect(w, r, fmt.Sprintf("/partners/%d", id), "Partner approved for the offer.")
}

func (s *Server) revokeApproval(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	offer, err := pathID(r, "offer_id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if err := s.store.RevokeApproval(r.Context(), id, offer); err != nil {
		s.errorPage(w, r, err)
		return
	}
	s.redirect(w, r, fmt.Sprintf("/partners/%d", id), "Approval revoked.")
}

func (s *Server) createPartnerKey(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	f := readForm(r)
	k, secret, err := s.store.CreateAPIKey(r.Context(), store.KeyPartner, id, f.str("name"))
	v := s.view(r, "Partner", "partners")
	var invalid *store.InvalidError
	switch {
	case errors.As(err, &invalid):
		v.problems(invalid.Problems, nil)
		s.partnerPage(w, r, http.StatusBadRequest, id, v)
		return
	case err != nil:
		s.errorPage(w, r, err)
		return
	}
	v.Flash = "API key " + strconv.Quote(k.Name) + " created."
	v.Secret, v.SecretLabel = secret, "The partner's new API key."
	s.partnerPage(w, r, http.StatusCreated, id, v)
}

func (s *Server) revokePartnerKey(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	keyID, err := pathID(r, "key_id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	keys, err := s.store.APIKeys(r.Context(), store.APIKeyFilter{Kind: store.KeyPartner, PartnerID: id, Revoked: true, Page: store.Page{Limit: listLimit}})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if !slices.ContainsFunc(keys, func(k store.APIKey) bool { return k.ID == keyID }) {
		s.errorPage(w, r, store.NotFound("API key of this partner", keyID))
		return
	}
	if _, err := s.store.RevokeAPIKey(r.Context(), keyID); err != nil {
		s.errorPage(w, r, err)
		return
	}
	s.redirect(w, r, fmt.Sprintf("/partners/%d", id), "API key revoked: it stopped working at once.")
}

// rateWords describes a payout or revenue rate: "CPA $0.50", "CPS 10%",
// "PRV 30% of revenue".
func rateWords(typ string, amount, percent decimal.Decimal, currency string) string {
	money := func() string { return reports.Money(amount, currency) }
	switch typ {
	case "cpa", "rpa":
		return strings.ToUpper(typ) + " " + money()
	case "cps", "rps":
		return strings.ToUpper(typ) + " " + percent.String() + "% of sale"
	case "cpa_cps", "rpa_rps":
		return strings.ToUpper(strings.ReplaceAll(typ, "_", "+")) + " " + money() + " + " + percent.String() + "% of sale"
	case "prv":
		return "PRV " + percent.String() + "% of revenue"
	}
	return typ
}
