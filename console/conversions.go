package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/reports"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
)

func (s *Server) conversionRoutes(r chi.Router) {
	r.Get("/conversions", s.conversions)
	r.Get("/conversions/export.csv", s.exportConversions)
	r.Get("/conversions/{id}", s.conversion)
	r.Get("/conversions/{id}/pending", s.conversionPending)
	r.Post("/conversions/{id}/status", s.setConversionStatus)
	r.Post("/conversions/{id}/refund", s.refundConversion)
	r.Post("/conversions/{id}/reverse", s.reverseConversion)
	r.Post("/conversions/{id}/edit", s.editConversion)
}

// filterChoices are the options of the report's filters.
type filterChoices struct {
	Advertisers   []store.Advertiser
	Offers        []store.Offer
	Partners      []store.Partner
	Tiers         []store.PartnerTier
	TieredRules   []tiered.Rule
	ValueRules    []store.CustomerValueRuleRecord
	Statuses      []string
	Rejections    []string
	ExportURL     string
	HasFilters    bool
	FilteredCount int64
}

type conversionsData struct {
	Page    reports.ConversionPage
	Choices filterChoices
	Columns []string
}

// filterFields are the report's filters, which its problems name.
var filterFields = []string{"from", "to", "partner_id", "offer_id", "advertiser_id", "tier_id", "tiered_rule_id",
	"customer_value_rule_id", "status", "rejection_reason", "user_id", "after"}

// conversions is the conversion report: filters, a page of rows with the
// rules that touched each, and the totals of everything the filters select.
func (s *Server) conversions(w http.ResponseWriter, r *http.Request) {
	v := s.view(r, "Conversions", "conversions").withFlash(w, r)
	v.Refused = "Check the filters"
	q := r.URL.Query()
	v.Form = q
	choices, err := s.filterChoices(r)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	d := conversionsData{Choices: choices, Columns: reports.ConversionColumns}
	f, err := reports.ParseConversionFilter(q, v.Loc)
	if err == nil {
		f.After, f.Limit = after(r), pageSize
		d.Page, err = s.reports.Conversions(r.Context(), f, true)
	}
	var invalid *store.InvalidError
	switch {
	case errors.As(err, &invalid):
		v.problems(invalid.Problems, filterFields)
		v.Data = d
		s.render(w, r, http.StatusBadRequest, "conversions", v)
		return
	case err != nil:
		s.errorPage(w, r, err)
		return
	}
	exportQuery := url.Values{}
	for k, vs := range q {
		if k != "after" && len(vs) > 0 && vs[0] != "" {
			exportQuery[k] = vs
			d.Choices.HasFilters = true
		}
	}
	d.Choices.ExportURL = Path + "/conversions/export.csv?" + exportQuery.Encode()
	for _, t := range d.Page.Totals {
		d.Choices.FilteredCount += t.Conversions
	}
	v.Data = d
	s.render(w, r, http.StatusOK, "conversions", v)
}

func (s *Server) filterChoices(r *http.Request) (filterChoices, error) {
	ctx := r.Context()
	c := filterChoices{Statuses: reports.Statuses, Rejections: reports.RejectionReasons}
	var err error
	if c.Advertisers, err = s.store.Advertisers(ctx, store.Page{Limit: listLimit}); err != nil {
		return c, err
	}
	if c.Offers, err = s.store.Offers(ctx, store.OfferFilter{Page: store.Page{Limit: listLimit}}); err != nil {
		return c, err
	}
	if c.Partners, err = s.store.Partners(ctx, store.PartnerFilter{Page: store.Page{Limit: listLimit}}); err != nil {
		return c, err
	}
	if c.Tiers, err = s.store.Tiers(ctx, store.Page{Limit: listLimit}); err != nil {
		return c, err
	}
	if c.TieredRules, err = s.store.TieredRules(ctx, false); err != nil {
		return c, err
	}
	c.ValueRules, err = s.store.CustomerValueRules(ctx, store.CustomerValueRuleFilter{Page: store.Page{Limit: listLimit}})
	return c, err
}

// exportConversions writes, as CSV, the report's rows and columns for the
// same filters as the page, across all its pages.
func (s *Server) exportConversions(w http.ResponseWriter, r *http.Request) {
	loc, err := s.store.NetworkTimeZone(r.Context())
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	f, err := reports.ParseConversionFilter(r.URL.Query(), loc)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="conversions-%s.csv"`, s.now().In(loc).Format("2006-01-02")))
	w.Header().Set("Cache-Control", "no-store")
	if err := s.reports.ExportConversions(r.Context(), w, f, loc); err != nil {
		// The header is sent: all that is left is to end the body short.
		s.logger.ErrorContext(r.Context(), "console: export conversions", "error", err)
	}
}

type conversionData struct {
	reports.ConversionDetail
	// WorkflowURL opens the customer's workflow in the Temporal Web UI.
	WorkflowURL string
	// Refundable is whether the conversion can take a partial refund now;
	// Decidable whether it can be approved or rejected.
	Refundable bool
	Decidable  bool
	// Edits are its manual edits: who, why, from and to.
	Edits []store.Edit
}

func (s *Server) conversion(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	s.conversionPage(w, r, http.StatusOK, id, s.view(r, "Conversion", "conversions").withFlash(w, r))
}

func (s *Server) conversionPage(w http.ResponseWriter, r *http.Request, status int, id int64, v *view) {
	d, err := s.reports.Conversion(r.Context(), id)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	c := d.Row.Conversion
	v.Title = fmt.Sprintf("Conversion %d", id)
	data := conversionData{ConversionDetail: d, WorkflowURL: s.workflowURL(c.WorkflowID, c.Anonymous()),
		Refundable: c.Status == store.StatusApproved && c.PricedAt != nil && c.ReversedAt == nil,
		// A pending conversion, or one rejected before it was priced (at
		// the postback edge, DESIGN §14.1) and not by a reversal, may be
		// approved or rejected.
		Decidable: c.Status == store.StatusPending ||
			(c.Status == store.StatusRejected && c.PricedAt == nil && c.ReversedAt == nil && c.RejectionReason != store.RejectReversed)}
	if data.Edits, err = s.store.Edits(r.Context(), id); err != nil {
		s.errorPage(w, r, err)
		return
	}
	v.Data = data
	s.render(w, r, status, "conversion", v)
}

// workflowURL links a customer's workflow in the Temporal Web UI: the
// workflows of the namespace filtered to the workflow id, which shows its
// runs whatever their state.
func (s *Server) workflowURL(workflowID string, anonymous bool) string {
	if s.uiURL == "" || anonymous || workflowID == "" {
		return ""
	}
	query := url.Values{"query": {fmt.Sprintf("WorkflowId=%q", workflowID)}}
	return s.uiURL + "/namespaces/" + url.PathEscape(s.namespace) + "/workflows?" + query.Encode()
}

// conversionPending answers htmx's poll of a conversion whose work is
// pending: the same banner while it is, a reload once it is done.
func (s *Server) conversionPending(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	c, err := s.reports.Pending(r.Context(), id)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	pending := reports.PendingWork(c)
	if len(pending) == 0 {
		w.Header().Set("HX-Refresh", "true")
		w.WriteHeader(http.StatusOK)
		return
	}
	v := s.view(r, "Conversion", "conversions")
	v.Data = struct {
		ID      int64
		Pending []string
	}{id, pending}
	s.renderFragment(w, r, "conversion", "pending", v)
}

func (s *Server) setConversionStatus(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	f := readForm(r)
	status := f.str("status")
	if _, err := s.lifecycle.SetStatus(r.Context(), id, status); err != nil {
		s.actionFailed(w, r, id, err)
		return
	}
	msg := "Conversion approved: it is priced as a new arrival."
	if status == store.StatusRejected {
		msg = "Conversion rejected: its lines, if any, are reversed."
	}
	s.redirect(w, r, fmt.Sprintf("/conversions/%d", id), msg)
}

var refundFields = []string{"sale_amount", "revenue", "reason"}

func (s *Server) refundConversion(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	f := readForm(r)
	in := store.RefundInput{SaleAmount: f.dec("sale_amount"), Revenue: f.dec("revenue"), Reason: f.str("reason")}
	err = f.check(in)
	var refund store.Refund
	if err == nil {
		_, refund, err = s.lifecycle.Refund(r.Context(), id, in)
	}
	if err != nil {
		v := s.view(r, "Conversion", "conversions")
		v.Form = f.values
		var invalid *store.InvalidError
		if errors.As(err, &invalid) {
			v.problems(invalid.Problems, refundFields)
			s.conversionPage(w, r, http.StatusBadRequest, id, v)
			return
		}
		s.actionFailed(w, r, id, err)
		return
	}
	s.redirect(w, r, fmt.Sprintf("/conversions/%d", id), "Refund "+strconv.FormatInt(refund.ID, 10)+" recorded: the conversion is re-priced under its original decisions.")
}

func (s *Server) reverseConversion(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	f := readForm(r)
	if err := f.err(); err != nil {
		s.actionFailed(w, r, id, err)
		return
	}
	if _, err := s.lifecycle.Reverse(r.Context(), id, f.str("note")); err != nil {
		s.actionFailed(w, r, id, err)
		return
	}
	s.redirect(w, r, fmt.Sprintf("/conversions/%d", id), "Conversion reversed: every line is offset by a new one.")
}

// editConversion sets the conversion's layer 1–3 payout and/or revenue by
// hand, with a reason, through lifecycle.Edit (the API's PATCH does the
// same); the edit is signed with the session's key name.
func (s *Server) editConversion(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	f := readForm(r)
	sess, _ := sessionOf(r)
	in := store.EditInput{Reason: f.str("edit.reason"), By: sess.KeyName}
	if d, ok := f.optDec("edit.payout"); ok {
		in.Payout = &d
	}
	if d, ok := f.optDec("edit.revenue"); ok {
		in.Revenue = &d
	}
	err = mergeProblems(f.problems, in.Validate)
	if err == nil {
		_, err = s.lifecycle.Edit(r.Context(), id, in)
	}
	var invalid *store.InvalidError
	if errors.As(err, &invalid) {
		v := s.view(r, "Conversion", "conversions")
		v.Form = f.values
		var ps []store.Problem
		for _, p := range invalid.Problems {
			if !strings.HasPrefix(p.Field, "edit.") {
				p.Field = "edit." + p.Field
			}
			ps = append(ps, p)
		}
		v.problems(ps, []string{"edit.payout", "edit.revenue", "edit.reason"})
		s.conversionPage(w, r, http.StatusBadRequest, id, v)
		return
	}
	if err != nil {
		s.actionFailed(w, r, id, err)
		return
	}
	s.redirect(w, r, fmt.Sprintf("/conversions/%d", id), "Edit saved: a manual line for the difference, the tiered line recomputed on the new amount.")
}

// actionFailed shows the conversion with the reason an action was refused.
func (s *Server) actionFailed(w http.ResponseWriter, r *http.Request, id int64, err error) {
	v := s.view(r, "Conversion", "conversions")
	var invalid *store.InvalidError
	switch {
	case errors.As(err, &invalid):
		v.problems(invalid.Problems, nil)
		s.conversionPage(w, r, http.StatusBadRequest, id, v)
	case errors.Is(err, store.ErrConflict):
		v.Alerts = append(v.Alerts, conflictMessage(err))
		s.conversionPage(w, r, http.StatusConflict, id, v)
	default:
		s.errorPage(w, r, err)
	}
}

// Customers: the Conversion Events Report.

type customersData struct {
	UserID string
	// Advertisers are the advertisers with a customer of that user id,
	// when there is more than one to choose from.
	Advertisers []store.Advertiser
	Report      *reports.CustomerEvents
	Advertiser  string
	// Rules are the active Customer Value rules by id, for each
	// condition's target.
	Rules       map[int64]customervalue.Rule
	Names       store.Names
	WorkflowURL string
	Searched    bool
}

// customers is the Conversion Events Report: enter a user id, see the
// customer's timeline and progress.
func (s *Server) customers(w http.ResponseWriter, r *http.Request) {
	v := s.view(r, "Conversion Events Report", "customers")
	q := r.URL.Query()
	v.Form = q
	d := customersData{UserID: q.Get("user_id")}
	if d.UserID == "" {
		v.Data = d
		s.render(w, r, http.StatusOK, "customers", v)
		return
	}
	d.Searched = true
	advertiserID, _ := strconv.ParseInt(q.Get("advertiser_id"), 10, 64)
	if advertiserID == 0 {
		as, err := s.reports.CustomerAdvertisers(r.Context(), d.UserID)
		if err != nil {
			s.errorPage(w, r, err)
			return
		}
		if len(as) != 1 {
			d.Advertisers = as
			v.Data = d
			status := http.StatusOK
			if len(as) == 0 {
				status = http.StatusNotFound
			}
			s.render(w, r, status, "customers", v)
			return
		}
		advertiserID = as[0].ID
	}
	rep, err := s.reports.CustomerEvents(r.Context(), advertiserID, d.UserID, s.now())
	if errors.Is(err, store.ErrNotFound) {
		v.Data = d
		s.render(w, r, http.StatusNotFound, "customers", v)
		return
	}
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	a, err := s.store.Advertiser(r.Context(), advertiserID)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	var offers, partners []int64
	for _, c := range rep.Conversions {
		offers, partners = append(offers, c.OfferID), append(partners, c.PartnerID)
	}
	if d.Names, err = s.store.NamesOf(r.Context(), nil, offers, partners, nil); err != nil {
		s.errorPage(w, r, err)
		return
	}
	d.Report, d.Advertiser, d.Rules = &rep, a.Name, rep.Rules
	d.WorkflowURL = s.workflowURL(rep.WorkflowID, false)
	v.Data = d
	s.render(w, r, http.StatusOK, "customers", v)
}
