package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/reports"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
)

// The Tiered Commissions editor: a rule's scope, dates and period, its
// bands table, and beside it the worked example of each band and the
// saved rules it would conflict with, both recomputed as the rule is
// edited (tiered.Examples, tiered.DraftConflicts) before anything is saved.
// Fields are named as the API's rule ("bands[1].payout.value"), and the
// form is read into a tiered.Rule that the store's own functions validate
// and save.

func (s *Server) tieredRuleRoutes(r chi.Router) {
	r.Get("/tiered-commissions", s.tieredRules)
	r.Get("/tiered-commissions/new", s.newTieredRule)
	r.Post("/tiered-commissions", s.createTieredRule)
	r.Post("/tiered-commissions/draft", s.draftTieredRule)
	r.Get("/tiered-commissions/{id}", s.tieredRule)
	r.Post("/tiered-commissions/{id}", s.updateTieredRule)
}

// bandRow is one band of the form: two bounds (the second optional) and
// four adjustments, each an action ("increase/percent", "set/fixed", …)
// and a value.
type bandRow struct {
	Index        int
	Name         string
	Bounds       [2]boundRow
	Payout       adjustmentRow
	Revenue      adjustmentRow
	RetroPayout  adjustmentRow
	RetroRevenue adjustmentRow
}

type boundRow struct{ Metric, Min, Max string }

type adjustmentRow struct{ How, Value string }

// tieredBuilder is the editor's form as posted.
type tieredBuilder struct {
	Values url.Values
	Bands  []bandRow
}

var bandField = regexp.MustCompile(`^bands\[(\d{1,3})\]\.(name|bounds\[[01]\]\.(?:metric|min|max)|(?:payout|revenue|retro_payout|retro_revenue)\.(?:how|value))$`)

// readTieredBuilder reads the posted editor, its bands renumbered in the
// order they were listed.
func readTieredBuilder(values url.Values) *tieredBuilder {
	b := &tieredBuilder{Values: url.Values{}}
	rows := map[int]*bandRow{}
	for name, vs := range values {
		m := bandField.FindStringSubmatch(name)
		if m == nil {
			b.Values[name] = vs
			continue
		}
		i, _ := strconv.Atoi(m[1])
		if rows[i] == nil {
			rows[i] = &bandRow{}
		}
		row, v := rows[i], strings.TrimSpace(vs[0])
		switch field := m[2]; {
		case field == "name":
			row.Name = v
		case strings.HasPrefix(field, "bounds["):
			j := int(field[7] - '0')
			switch field[10:] {
			case "metric":
				row.Bounds[j].Metric = v
			case "min":
				row.Bounds[j].Min = v
			case "max":
				row.Bounds[j].Max = v
			}
		default:
			what, part, _ := strings.Cut(field, ".")
			adj := map[string]*adjustmentRow{"payout": &row.Payout, "revenue": &row.Revenue, "retro_payout": &row.RetroPayout, "retro_revenue": &row.RetroRevenue}[what]
			if part == "how" {
				adj.How = v
			} else {
				adj.Value = v
			}
		}
	}
	for _, i := range sortedKeys(rows) {
		rows[i].Index = len(b.Bands)
		b.Bands = append(b.Bands, *rows[i])
	}
	return b
}

// tieredForm is the form of a stored rule.
func tieredForm(r tiered.Rule) *tieredBuilder {
	v := url.Values{}
	v.Set("name", r.Name)
	v.Set("status", map[bool]string{true: "active", false: "paused"}[r.Active])
	if len(r.AdvertiserIDs) > 0 && len(r.OfferIDs) == 0 {
		v.Set("scope_kind", "advertisers")
	} else {
		v.Set("scope_kind", "offers")
	}
	for _, id := range r.OfferIDs {
		v.Add("offer_ids", strconv.FormatInt(id, 10))
	}
	for _, id := range r.AdvertiserIDs {
		v.Add("advertiser_ids", strconv.FormatInt(id, 10))
	}
	v.Set("partners_scope", map[bool]string{true: "all", false: "selected"}[r.AllPartners()])
	for _, id := range r.PartnerIDs {
		v.Add("partner_ids", strconv.FormatInt(id, 10))
	}
	v.Set("applies_to", string(r.AppliesTo))
	v.Set("event", r.Event)
	v.Set("start_date", r.StartDate)
	v.Set("end_date", r.EndDate)
	v.Set("period", string(r.Period))
	v.Set("retro_mode", string(r.RetroMode()))
	b := &tieredBuilder{Values: v}
	adj := func(a *tiered.Adjustment) adjustmentRow {
		if a == nil {
			return adjustmentRow{}
		}
		return adjustmentRow{How: a.Action + "/" + a.By + a.Rate, Value: a.Value.String()}
	}
	for i, band := range r.Bands {
		row := bandRow{Index: i, Name: band.Name, Payout: adj(band.Payout), Revenue: adj(band.Revenue),
			RetroPayout: adj(band.RetroPayout), RetroRevenue: adj(band.RetroRevenue)}
		for j, bound := range band.Bounds {
			if j < len(row.Bounds) {
				row.Bounds[j] = boundRow{Metric: string(bound.Metric), Min: decString(bound.Min), Max: decString(bound.Max)}
			}
		}
		b.Bands = append(b.Bands, row)
	}
	return b
}

// newTieredForm is the form of a new rule: seed 001's defaults, with one
// band on conversions.
func newTieredForm(loc *time.Location, now time.Time) *tieredBuilder {
	b := tieredForm(tiered.Rule{Active: true, AppliesTo: tiered.AppliesToBase, Period: tiered.PeriodMonthly,
		StartDate: now.In(loc).Format(tiered.DateLayout), Retro: tiered.RetroDisabled})
	b.Bands = []bandRow{{Bounds: [2]boundRow{{Metric: string(tiered.MetricConversions)}}}}
	return b
}

// rule reads the editor into a tiered rule; values that do not parse are
// problems of f named as the store names its own.
func (b *tieredBuilder) rule(f *form) tiered.Rule {
	v := b.Values
	get := func(name string) string { return strings.TrimSpace(v.Get(name)) }
	ids := func(field string) []int64 {
		var out []int64
		for _, s := range v[field] {
			n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil || n <= 0 {
				f.problems.Add(field, "must be listed choices")
				continue
			}
			out = append(out, n)
		}
		return out
	}
	r := tiered.Rule{Name: get("name"), Active: get("status") != "paused", AppliesTo: tiered.AppliesTo(get("applies_to")),
		StartDate: get("start_date"), EndDate: get("end_date"), Period: tiered.Period(get("period")), Retro: tiered.RetroMode(get("retro_mode"))}
	if get("scope_kind") == "advertisers" {
		r.AdvertiserIDs = ids("advertiser_ids")
	} else {
		r.OfferIDs = ids("offer_ids")
	}
	if get("partners_scope") == "selected" {
		r.PartnerIDs = ids("partner_ids")
		if len(r.PartnerIDs) == 0 {
			f.problems.Add("partner_ids", "choose at least one partner, or make the rule for all partners")
		}
	}
	if r.AppliesTo == tiered.AppliesToEvent {
		r.Event = get("event")
	}
	for _, row := range b.Bands {
		prefix := fmt.Sprintf("bands[%d].", row.Index)
		band := tiered.Band{Name: row.Name}
		for j, bound := range row.Bounds {
			if j > 0 && bound == (boundRow{}) {
				continue // the second bound is optional
			}
			bp := fmt.Sprintf("%sbounds[%d].", prefix, j)
			band.Bounds = append(band.Bounds, tiered.Bound{Metric: tiered.Metric(bound.Metric),
				Min: decField(f, bp+"min", bound.Min), Max: decField(f, bp+"max", bound.Max)})
		}
		band.Payout = adjustmentOf(f, prefix+"payout.", row.Payout)
		band.Revenue = adjustmentOf(f, prefix+"revenue.", row.Revenue)
		band.RetroPayout = adjustmentOf(f, prefix+"retro_payout.", row.RetroPayout)
		band.RetroRevenue = adjustmentOf(f, prefix+"retro_revenue.", row.RetroRevenue)
		r.Bands = append(r.Bands, band)
	}
	return r
}

// adjustmentOf reads an adjustment: how is "increase/percent",
// "decrease/flat", "set/sale_percent" …, or empty for none.
func adjustmentOf(f *form, prefix string, a adjustmentRow) *tiered.Adjustment {
	if a.How == "" || a.How == "none" {
		return nil
	}
	action, way, _ := strings.Cut(a.How, "/")
	adj := &tiered.Adjustment{Action: action}
	if action == tiered.ActionSet {
		adj.Rate = way
	} else {
		adj.By = way
	}
	if a.Value == "" {
		f.problems.Add(prefix+"value", "is required: the percent or the amount")
	} else {
		adj.Value = decOf(f, prefix+"value", a.Value)
	}
	return adj
}

// adjustmentChoices are the ways a band adjusts an amount, as seed 001
// words them.
var adjustmentChoices = []choice{
	{"", "No change"},
	{"increase/percent", "Increase by a percent"}, {"increase/flat", "Increase by a flat amount"},
	{"decrease/percent", "Decrease by a percent"}, {"decrease/flat", "Decrease by a flat amount"},
	{"set/fixed", "Set to a fixed amount"}, {"set/sale_percent", "Set to a % of the sale amount"},
	{"set/revenue_percent", "Set to a % of the revenue"},
}

var tieredFields = []string{"name", "status", "offer_ids*", "advertiser_ids*", "partner_ids*", "applies_to", "event",
	"start_date", "end_date", "period", "retro_mode", "bands", "bands[*"}

type tieredRulesData struct {
	Rules     []tiered.Rule
	Conflicts []tiered.Conflict
}

func (s *Server) tieredRules(w http.ResponseWriter, r *http.Request) {
	v := s.view(r, "Tiered Commissions", "tieredrules").withFlash(w, r)
	rules, err := s.store.TieredRules(r.Context(), false)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	active, err := s.store.TieredRules(r.Context(), true)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	offers, err := s.store.OfferAdvertisers(r.Context())
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	v.Data = tieredRulesData{Rules: rules, Conflicts: tiered.Conflicts(active, offers)}
	s.render(w, r, http.StatusOK, "tieredrules", v)
}

type tieredRuleData struct {
	B    *tieredBuilder
	Rule *tiered.Rule
	scopeChoices
	Adjustments []choice
	Insights    tieredInsights
	Zone        string
	Kind        string // "tiered", for the preview panel
}

// tieredInsights is what the editor shows beside the bands while the rule
// is edited: when it runs, each band worked through, the bands that
// overlap, and the saved rules it conflicts with.
type tieredInsights struct {
	Runs      string
	Example   string // the conversion the examples price
	Examples  []tiered.Example
	Overlaps  []string // problems of the bands' order and overlap
	Conflicts []conflictView
}

// scopeChoices are the partners, offers and advertisers a rule's scope is
// picked from (the first listLimit of each), read once per builder page.
type scopeChoices struct {
	Partners    []store.Partner
	Offers      []store.Offer
	Advertisers []store.Advertiser
}

func (s *Server) scopeChoices(ctx context.Context) (scopeChoices, error) {
	var c scopeChoices
	var err error
	if c.Partners, err = s.store.Partners(ctx, store.PartnerFilter{Page: store.Page{Limit: listLimit}}); err != nil {
		return c, err
	}
	if c.Offers, err = s.store.Offers(ctx, store.OfferFilter{Page: store.Page{Limit: listLimit}}); err != nil {
		return c, err
	}
	c.Advertisers, err = s.store.Advertisers(ctx, store.Page{Limit: listLimit})
	return c, err
}

type conflictView struct {
	tiered.Conflict
	OtherName  string
	WinnerName string
}

func (s *Server) tieredBuilderPage(w http.ResponseWriter, r *http.Request, status int, v *view, b *tieredBuilder, saved *tiered.Rule) {
	ctx := r.Context()
	d := tieredRuleData{B: b, Rule: saved, Adjustments: adjustmentChoices, Zone: v.Loc.String(), Kind: "tiered"}
	var err error
	if d.scopeChoices, err = s.scopeChoices(ctx); err != nil {
		s.errorPage(w, r, err)
		return
	}
	rule := b.rule(&form{values: url.Values{}})
	if saved != nil {
		rule.ID, rule.CreatedAt = saved.ID, saved.CreatedAt
	}
	if d.Insights, err = s.tieredInsights(r, rule, d.Offers, v.Loc); err != nil {
		s.errorPage(w, r, err)
		return
	}
	s.previewDefaults(b.Values, v.Loc)
	v.Form = b.Values
	v.Data = d
	s.render(w, r, status, "tieredrule", v)
}

// tieredInsights works the draft through: its window in the network's
// zone, the worked example of each band, its bands' overlaps and the saved
// rules it conflicts with.
func (s *Server) tieredInsights(r *http.Request, rule tiered.Rule, offers []store.Offer, loc *time.Location) (tieredInsights, error) {
	var in tieredInsights
	if start, end, err := rule.Window(loc); err == nil {
		in.Runs = "From " + start.In(loc).Format("2006-01-02 15:04:05")
		if rule.EndDate != "" {
			in.Runs += " to " + end.Add(-time.Second).In(loc).Format("2006-01-02 15:04:05")
		} else {
			in.Runs += ", without an end"
		}
		in.Runs += " (" + loc.String() + ")"
	}
	network, err := s.store.Network(r.Context())
	if err != nil {
		return in, err
	}
	amounts, offerName := exampleAmounts(rule, offers, network.Currency)
	in.Example = fmt.Sprintf("A conversion of %s paying %s and earning %s, with a %s sale.", offerName,
		reports.Money(amounts.Payout, amounts.Currency), reports.Money(amounts.Revenue, amounts.Currency), reports.Money(amounts.SaleAmount, amounts.Currency))
	in.Examples = rule.Examples(tiered.ExampleInput{Amounts: amounts, Money: func(d decimal.Decimal) string { return reports.Money(d, amounts.Currency) }})
	for _, p := range rule.Problems() {
		if strings.HasPrefix(p.Field, "bands[") && !strings.Contains(p.Field, ".") {
			in.Overlaps = append(in.Overlaps, p.Problem)
		}
	}
	rules, err := s.store.TieredRules(r.Context(), true)
	if err != nil {
		return in, err
	}
	byOffer, err := s.store.OfferAdvertisers(r.Context())
	if err != nil {
		return in, err
	}
	names := map[int64]string{}
	for _, x := range rules {
		names[x.ID] = x.Name
	}
	for _, c := range tiered.DraftConflicts(rule, rules, byOffer) {
		cv := conflictView{Conflict: c, OtherName: names[c.A], WinnerName: "this rule"}
		if c.Winner != rule.ID {
			cv.WinnerName = fmt.Sprintf("rule %d %q", c.Winner, names[c.Winner])
		}
		in.Conflicts = append(in.Conflicts, cv)
	}
	return in, nil
}

// exampleAmounts are the amounts the worked example prices: the base
// payout and revenue of the first offer in scope when they are fixed,
// else $10 and $20, with a $100 sale.
func exampleAmounts(r tiered.Rule, offers []store.Offer, currency string) (tiered.Amounts, string) {
	a := tiered.Amounts{SaleAmount: decimal.NewFromInt(100), Payout: decimal.NewFromInt(10), Revenue: decimal.NewFromInt(20), Currency: currency}
	name := "an offer"
	for _, o := range offers {
		if !slices.Contains(r.OfferIDs, o.ID) && !slices.Contains(r.AdvertiserIDs, o.AdvertiserID) {
			continue
		}
		name, a.Currency = strconv.Quote(o.Name), o.Currency
		event := ""
		if r.AppliesTo == tiered.AppliesToEvent {
			event = r.Event
		}
		if e, ok := o.Event(event); ok {
			if e.Payout.Type == pricing.PayoutCPA && e.Payout.Amount.IsPositive() {
				a.Payout = e.Payout.Amount
			}
			if e.Revenue.Type == pricing.RevenueRPA && e.Revenue.Amount.IsPositive() {
				a.Revenue = e.Revenue.Amount
			}
		}
		break
	}
	return a, name
}

func (s *Server) newTieredRule(w http.ResponseWriter, r *http.Request) {
	v := s.view(r, "New Tiered Commission", "tieredrules")
	s.tieredBuilderPage(w, r, http.StatusOK, v, newTieredForm(v.Loc, s.now()), nil)
}

func (s *Server) tieredRule(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	rule, err := s.store.TieredRule(r.Context(), id)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	v := s.view(r, rule.Name, "tieredrules").withFlash(w, r)
	s.tieredBuilderPage(w, r, http.StatusOK, v, tieredForm(rule), &rule)
}

func (s *Server) createTieredRule(w http.ResponseWriter, r *http.Request) {
	f := readForm(r)
	b := readTieredBuilder(f.values)
	rule := b.rule(f)
	err := mergeProblems(f.problems, func() error { return s.store.ValidateTieredRule(r.Context(), rule) })
	var out tiered.Rule
	if err == nil {
		out, err = s.store.CreateTieredRule(r.Context(), rule)
	}
	if err != nil {
		s.tieredRuleFailed(w, r, s.view(r, "New Tiered Commission", "tieredrules"), b, nil, err)
		return
	}
	s.redirect(w, r, fmt.Sprintf("/tiered-commissions/%d", out.ID), "Tiered Commission "+strconv.Quote(out.Name)+" created.")
}

func (s *Server) updateTieredRule(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	saved, err := s.store.TieredRule(r.Context(), id)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	f := readForm(r)
	b := readTieredBuilder(f.values)
	rule := b.rule(f)
	err = mergeProblems(f.problems, func() error { return s.store.ValidateTieredRule(r.Context(), rule) })
	if err == nil {
		_, err = s.store.UpdateTieredRule(r.Context(), id, rule)
	}
	if err != nil {
		s.tieredRuleFailed(w, r, s.view(r, saved.Name, "tieredrules"), b, &saved, err)
		return
	}
	s.redirect(w, r, fmt.Sprintf("/tiered-commissions/%d", id), "Tiered Commission saved.")
}

func (s *Server) tieredRuleFailed(w http.ResponseWriter, r *http.Request, v *view, b *tieredBuilder, saved *tiered.Rule, err error) {
	var invalid *store.InvalidError
	if errors.As(err, &invalid) {
		v.problems(invalid.Problems, tieredFields)
		s.tieredBuilderPage(w, r, http.StatusBadRequest, v, b, saved)
		return
	}
	s.errorPage(w, r, err)
}

// draftTieredRule answers the editor's changes without saving: add or
// remove a band, or show the form again with the insights recomputed.
func (s *Server) draftTieredRule(w http.ResponseWriter, r *http.Request) {
	f := readForm(r)
	var saved *tiered.Rule
	if id, err := strconv.ParseInt(f.str("rule_id"), 10, 64); err == nil && id > 0 {
		rule, err := s.store.TieredRule(r.Context(), id)
		if err != nil {
			s.errorPage(w, r, err)
			return
		}
		saved = &rule
	}
	title := "New Tiered Commission"
	if saved != nil {
		title = saved.Name
	}
	v := s.view(r, title, "tieredrules")
	b := readTieredBuilder(f.values)
	action, arg, _ := strings.Cut(f.str("action"), ":")
	i, _ := strconv.Atoi(arg)
	switch action {
	case "add_band":
		next := bandRow{Index: len(b.Bands)}
		if n := len(b.Bands); n > 0 {
			// The next band starts where the last one ends, on its metric.
			last := b.Bands[n-1].Bounds[0]
			next.Bounds[0] = boundRow{Metric: last.Metric, Min: last.Max}
		} else {
			next.Bounds[0].Metric = string(tiered.MetricConversions)
		}
		b.Bands = append(b.Bands, next)
	case "remove_band":
		if i >= 0 && i < len(b.Bands) {
			b.Bands = slices.Delete(b.Bands, i, i+1)
			for j := range b.Bands {
				b.Bands[j].Index = j
			}
		}
	}
	s.tieredBuilderPage(w, r, http.StatusOK, v, b, saved)
}

// previewDefaults fills the preview panel's range: from the first day of
// this month, at most MaxConversions.
func (s *Server) previewDefaults(values url.Values, loc *time.Location) {
	if values.Get("preview.from") == "" {
		y, m, _ := s.now().In(loc).Date()
		values.Set("preview.from", time.Date(y, m, 1, 0, 0, 0, 0, loc).Format(time.DateOnly))
	}
	if values.Get("preview.max") == "" {
		values.Set("preview.max", "10000")
	}
}
