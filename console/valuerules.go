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

	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/reports"
	"github.com/tierwise/tierwise/store"
)

// The Customer Value rule builder: seed 000's three tabs (General,
// Timeframe, Behavior) in one form whose fields are named by the paths of
// the API's rule ("rule.conditions[1].operator"), so the store's problems
// land next to their inputs. The form is read into the store's own input
// (store.CustomerValueRuleInput) and saved by the same store functions as
// the API; the data points created from a condition row travel with the
// rule as its inline data points ("data_points[0].identifier"), created in
// the rule's transaction.

func (s *Server) valueRuleRoutes(r chi.Router) {
	r.Get("/customer-value-rules", s.valueRules)
	r.Get("/customer-value-rules/new", s.newValueRule)
	r.Post("/customer-value-rules", s.createValueRule)
	r.Post("/customer-value-rules/draft", s.draftValueRule)
	r.Get("/customer-value-rules/{id}", s.valueRule)
	r.Post("/customer-value-rules/{id}", s.updateValueRule)
	r.Post("/customer-value-rules/{id}/pause", s.pauseValueRule)
	r.Post("/customer-value-rules/{id}/resume", s.resumeValueRule)
}

// conditionRow is one goal condition of the form, with the new data point
// its row may create.
type conditionRow struct {
	Index                                          int
	Source, Aggregation, Operator, Value, Min, Max string
	// New is the data point typed into the row's "new data point" box;
	// NewOpen keeps the box open (it was used, or has problems).
	New     store.DataPointInput
	NewOpen bool
	// Type is the source's type ("" while none is chosen), Ops the
	// operators it offers (customervalue.OperatorsFor).
	Type string
	Ops  []choice
}

// choice is an option of a select.
type choice struct {
	Value, Label string
}

// valueBuilder is the builder's form as posted: its scalar fields in
// Values, its condition rows and the data points it creates.
type valueBuilder struct {
	Values     url.Values
	Conditions []conditionRow
	DataPoints []store.DataPointInput
}

var (
	conditionField = regexp.MustCompile(`^rule\.conditions\[(\d{1,3})\]\.(source|aggregation|operator|value|min|max)$`)
	newPointField  = regexp.MustCompile(`^new_data_point\[(\d{1,3})\]\.(name|identifier|type)$`)
	dataPointField = regexp.MustCompile(`^data_points\[(\d{1,3})\]\.(name|identifier|type)$`)
)

// readValueBuilder reads the posted builder, its rows renumbered in the
// order they were listed.
func readValueBuilder(values url.Values) *valueBuilder {
	b := &valueBuilder{Values: url.Values{}}
	rows := map[int]*conditionRow{}
	points := map[int]*store.DataPointInput{}
	row := func(i int) *conditionRow {
		if rows[i] == nil {
			rows[i] = &conditionRow{}
		}
		return rows[i]
	}
	for name, vs := range values {
		v := strings.TrimSpace(vs[0])
		if m := conditionField.FindStringSubmatch(name); m != nil {
			i, _ := strconv.Atoi(m[1])
			r := row(i)
			switch m[2] {
			case "source":
				r.Source = v
			case "aggregation":
				r.Aggregation = v
			case "operator":
				r.Operator = v
			case "value":
				r.Value = v
			case "min":
				r.Min = v
			case "max":
				r.Max = v
			}
			continue
		}
		if m := newPointField.FindStringSubmatch(name); m != nil {
			i, _ := strconv.Atoi(m[1])
			r := row(i)
			switch m[2] {
			case "name":
				r.New.Name = v
			case "identifier":
				r.New.Identifier = v
			case "type":
				r.New.Type = v
			}
			continue
		}
		if m := dataPointField.FindStringSubmatch(name); m != nil {
			k, _ := strconv.Atoi(m[1])
			if points[k] == nil {
				points[k] = &store.DataPointInput{}
			}
			switch m[2] {
			case "name":
				points[k].Name = v
			case "identifier":
				points[k].Identifier = v
			case "type":
				points[k].Type = v
			}
			continue
		}
		b.Values[name] = vs
	}
	for _, i := range sortedKeys(rows) {
		r := rows[i]
		r.Index = len(b.Conditions)
		// Open when something was typed into it: the type select always
		// sends its default, which alone is not a data point being made.
		r.NewOpen = r.New.Name != "" || r.New.Identifier != ""
		b.Conditions = append(b.Conditions, *r)
	}
	for _, k := range sortedKeys(points) {
		b.DataPoints = append(b.DataPoints, *points[k])
	}
	return b
}

func sortedKeys[T any](m map[int]T) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// valueForm is the form of a stored rule.
func valueForm(r customervalue.Rule, status string, loc *time.Location) *valueBuilder {
	v := url.Values{}
	v.Set("rule.name", r.Name)
	v.Set("status", status)
	scope := func(field, scopeField string, ids []int64) {
		if len(ids) == 0 {
			v.Set(scopeField, "all")
			return
		}
		v.Set(scopeField, "selected")
		for _, id := range ids {
			v.Add(field, strconv.FormatInt(id, 10))
		}
	}
	scope("rule.partner_ids", "partners_scope", r.PartnerIDs)
	scope("rule.offer_ids", "offers_scope", r.OfferIDs)
	scope("rule.advertiser_ids", "advertisers_scope", r.AdvertiserIDs)
	v.Set("rule.applies_on", string(r.AppliesOn))
	v.Set("rule.event", r.Event)
	if !r.StartsAt.IsZero() {
		v.Set("rule.starts_at", r.StartsAt.In(loc).Format("2006-01-02T15:04"))
	}
	if r.EndsAt != nil {
		v.Set("rule.ends_at", r.EndsAt.In(loc).Format("2006-01-02T15:04"))
	}
	if r.Timeframe.Cycle == customervalue.CycleContinuous || r.Timeframe.Cycle == "" {
		v.Set("cycle_kind", "continuous")
	} else {
		v.Set("cycle_kind", "recurring")
		v.Set("recurring_period", string(r.Timeframe.Cycle))
	}
	v.Set("rule.timeframe.anchor", string(r.Timeframe.Anchor))
	if r.Timeframe.DurationDays > 0 {
		v.Set("rule.timeframe.duration_days", strconv.Itoa(r.Timeframe.DurationDays))
	}
	v.Set("goals", map[bool]string{true: "yes", false: "no"}[len(r.Conditions) > 0])
	if r.Grouping == customervalue.GroupAll || r.Grouping == "" {
		v.Set("grouping_kind", "all")
	} else {
		v.Set("grouping_kind", "separately")
		v.Set("grouping_by", string(r.Grouping))
	}
	o := r.Outcome
	v.Set("rule.outcome.frequency", string(o.Frequency))
	v.Set("rule.outcome.trigger", string(o.Trigger))
	v.Set("rule.outcome.kind", string(o.Kind))
	setRate := func(prefix string, rate customervalue.Rate) {
		v.Set(prefix+"type", string(rate.Type))
		if rate.Type == customervalue.RateFixed {
			v.Set(prefix+"amount", rate.Amount.String())
		} else {
			v.Set(prefix+"percent", rate.Percent.String())
		}
		v.Set(prefix+"base", string(rate.Base))
	}
	setRate("rule.outcome.payout.", o.Payout)
	if o.RevenueAdjustment != nil {
		v.Set("revenue_adjustment", "on")
		setRate("rule.outcome.revenue_adjustment.", *o.RevenueAdjustment)
	}
	b := &valueBuilder{Values: v}
	for i, c := range r.Conditions {
		row := conditionRow{Index: i, Source: c.Source, Aggregation: string(c.Aggregation), Operator: string(c.Operator), Value: c.Value}
		switch c.Operator {
		case customervalue.OpIn:
			row.Value = strings.Join(c.Values, ", ")
		case customervalue.OpBetween:
			row.Min, row.Max = decString(c.Min), decString(c.Max)
		}
		b.Conditions = append(b.Conditions, row)
	}
	return b
}

func decString(d *decimal.Decimal) string {
	if d == nil {
		return ""
	}
	return d.String()
}

// newValueForm is the form of a new rule: seed 000's defaults, with one
// empty condition row.
func newValueForm(loc *time.Location, now time.Time) *valueBuilder {
	y, m, d := now.In(loc).Date()
	r := customervalue.Rule{AppliesOn: customervalue.AppliesOnAll, StartsAt: time.Date(y, m, d, 0, 0, 0, 0, loc),
		Timeframe: customervalue.Timeframe{Cycle: customervalue.CycleContinuous, Anchor: customervalue.AnchorFirstConversion},
		Grouping:  customervalue.GroupAll,
		Outcome: customervalue.RuleOutcome{Frequency: customervalue.OncePerCustomer, Trigger: customervalue.TriggerInstant,
			Kind: customervalue.KindBonus, Payout: customervalue.Rate{Type: customervalue.RateFixed}}}
	b := valueForm(r, store.CustomerValueActive, loc)
	b.Values.Set("goals", "yes")
	b.Values.Del("rule.outcome.payout.amount")
	b.Conditions = []conditionRow{{}}
	return b
}

// input reads the builder into the store's input. Values that do not parse
// are problems of f, named like the store names its own.
func (b *valueBuilder) input(f *form, loc *time.Location) store.CustomerValueRuleInput {
	v := b.Values
	get := func(name string) string { return strings.TrimSpace(v.Get(name)) }
	r := customervalue.Rule{Name: get("rule.name"), AppliesOn: customervalue.AppliesOn(get("rule.applies_on"))}
	ids := func(field, scopeField, noun string) []int64 {
		if get(scopeField) != "selected" {
			return nil
		}
		out := []int64{}
		for _, s := range v[field] {
			n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil || n <= 0 {
				f.problems.Add(field, "must be listed choices")
				continue
			}
			out = append(out, n)
		}
		if len(out) == 0 {
			f.problems.Add(field, "choose at least one %s, or apply the rule to all %ss", noun, noun)
		}
		return out
	}
	r.PartnerIDs = ids("rule.partner_ids", "partners_scope", "partner")
	r.OfferIDs = ids("rule.offer_ids", "offers_scope", "offer")
	r.AdvertiserIDs = ids("rule.advertiser_ids", "advertisers_scope", "advertiser")
	if r.AppliesOn == customervalue.AppliesOnEvent {
		r.Event = get("rule.event")
	}
	sub := &form{values: v}
	if t := sub.localTime("rule.starts_at", loc); t != nil {
		r.StartsAt = *t
	}
	r.EndsAt = sub.localTime("rule.ends_at", loc)
	switch get("cycle_kind") {
	case "continuous":
		r.Timeframe.Cycle = customervalue.CycleContinuous
	case "recurring":
		r.Timeframe.Cycle = customervalue.Cycle(get("recurring_period"))
		if r.Timeframe.Cycle == "" {
			f.problems.Add("rule.timeframe.cycle", "choose how often a recurring cycle starts again: daily, weekly, monthly or quarterly")
		}
	}
	r.Timeframe.Anchor = customervalue.Anchor(get("rule.timeframe.anchor"))
	if d := get("rule.timeframe.duration_days"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil {
			f.problems.Add("rule.timeframe.duration_days", "must be a whole number of days, got %q", d)
		}
		r.Timeframe.DurationDays = n
	}
	if get("goals") != "no" {
		for _, c := range b.Conditions {
			prefix := fmt.Sprintf("rule.conditions[%d].", c.Index)
			cond := customervalue.Condition{Source: c.Source, Aggregation: customervalue.Aggregation(c.Aggregation), Operator: customervalue.Operator(c.Operator)}
			switch cond.Operator {
			case customervalue.OpIn:
				for _, x := range strings.Split(c.Value, ",") {
					if x = strings.TrimSpace(x); x != "" {
						cond.Values = append(cond.Values, x)
					}
				}
			case customervalue.OpBetween:
				cond.Min, cond.Max = decField(f, prefix+"min", c.Min), decField(f, prefix+"max", c.Max)
			default:
				cond.Value = c.Value
			}
			r.Conditions = append(r.Conditions, cond)
		}
	}
	switch get("grouping_kind") {
	case "all":
		r.Grouping = customervalue.GroupAll
	case "separately":
		r.Grouping = customervalue.Grouping(get("grouping_by"))
		if r.Grouping == "" {
			f.problems.Add("rule.grouping", "choose what to count separately: each offer or each partner")
		}
	}
	o := &r.Outcome
	o.Frequency = customervalue.Frequency(get("rule.outcome.frequency"))
	o.Trigger = customervalue.Trigger(get("rule.outcome.trigger"))
	o.Kind = customervalue.Kind(get("rule.outcome.kind"))
	rate := func(prefix string) customervalue.Rate {
		rt := customervalue.Rate{Type: customervalue.RateType(get(prefix + "type"))}
		switch rt.Type {
		case customervalue.RateFixed:
			rt.Amount = sub.dec(prefix + "amount")
		case customervalue.RatePercent:
			rt.Percent, rt.Base = sub.dec(prefix+"percent"), customervalue.Base(get(prefix+"base"))
		case customervalue.RateRevShare:
			rt.Percent = sub.dec(prefix + "percent")
		}
		return rt
	}
	o.Payout = rate("rule.outcome.payout.")
	if checked(get("revenue_adjustment")) {
		adj := rate("rule.outcome.revenue_adjustment.")
		o.RevenueAdjustment = &adj
	}
	f.problems = append(f.problems, sub.problems...)
	active := get("status") != store.CustomerValuePaused
	return store.CustomerValueRuleInput{Rule: r, Active: &active, DataPoints: b.DataPoints}
}

// decField reads an optional decimal of a renumbered field.
func decField(f *form, field, v string) *decimal.Decimal {
	if v == "" {
		return nil
	}
	d := decOf(f, field, v)
	return &d
}

// valueRuleFields are the fields the builder shows problems next to.
var valueRuleFields = []string{"rule.name", "status", "rule.partner_ids*", "rule.offer_ids*", "rule.advertiser_ids*", "rule.applies_on",
	"rule.event", "rule.starts_at", "rule.ends_at", "rule.timeframe.*", "goals", "rule.conditions", "rule.conditions[*",
	"new_data_point[*", "data_points[*", "rule.grouping", "rule.outcome.*"}

type valueRulesData struct {
	Rules      []valueRuleRow
	DataPoints []store.DataPoint
}

type valueRuleRow struct {
	store.CustomerValueRuleRecord
	Lifecycle string
	Summary   string
}

// valueRules lists the rules with their lifecycle and what each pays.
func (s *Server) valueRules(w http.ResponseWriter, r *http.Request) {
	v := s.view(r, "Customer Value rules", "valuerules").withFlash(w, r)
	recs, err := s.store.CustomerValueRules(r.Context(), store.CustomerValueRuleFilter{Page: store.Page{Limit: listLimit}})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	dps, err := s.store.DataPoints(r.Context(), store.DataPointFilter{Page: store.Page{Limit: listLimit}})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	scope, err := s.scopeChoices(r.Context())
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	names, err := s.summaryNames(r.Context(), scope, nil)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	d := valueRulesData{DataPoints: dps}
	now := s.now()
	for _, rec := range recs {
		d.Rules = append(d.Rules, valueRuleRow{CustomerValueRuleRecord: rec, Lifecycle: store.CustomerValueLifecycle(rec.Rule, now), Summary: rec.Summary(names)})
	}
	v.Data = d
	s.render(w, r, http.StatusOK, "valuerules", v)
}

// summaryNames are the names a rule's summary uses: every data point (and
// those the form creates), the scope's partners, offers and advertisers,
// and the network's currency.
func (s *Server) summaryNames(ctx context.Context, scope scopeChoices, pending []store.DataPointInput) (customervalue.Names, error) {
	n := customervalue.Names{Partners: map[int64]string{}, Offers: map[int64]string{}, Advertisers: map[int64]string{}}
	var err error
	if n.DataPoints, err = s.store.DataPointNames(ctx); err != nil {
		return n, err
	}
	for _, dp := range pending {
		if dp.Identifier != "" && dp.Name != "" {
			n.DataPoints[dp.Identifier] = dp.Name
		}
	}
	for _, p := range scope.Partners {
		n.Partners[p.ID] = p.Name
	}
	for _, o := range scope.Offers {
		n.Offers[o.ID] = o.Name
	}
	for _, a := range scope.Advertisers {
		n.Advertisers[a.ID] = a.Name
	}
	network, err := s.store.Network(ctx)
	if err != nil {
		return n, err
	}
	n.Currency = network.Currency
	n.Money = func(d decimal.Decimal) string { return reports.Money(d, network.Currency) }
	return n, nil
}

type valueRuleData struct {
	B    *valueBuilder
	Rule *store.CustomerValueRuleRecord
	// Lifecycle is the saved rule's now; Locked whether its goals and cycle
	// settings are locked (it has run), LockedSince since when it runs.
	Lifecycle string
	Locked    bool
	scopeChoices
	// Sources are the condition sources: the data points, those the form
	// creates, and the built-in metrics.
	Sources      []sourceChoice
	Aggregations []choice
	Summary      string
	Zone         string
	Kind         string // "value", for the preview panel
}

// sourceChoice is a condition source of the select, grouped.
type sourceChoice struct {
	Value, Label, Type, Group string
}

var metricChoices = []sourceChoice{
	{customervalue.MetricConversionCount, "Conversions (base, counted)", "number", "Built-in metrics"},
	{customervalue.MetricEventCount, "Events (counted)", "number", "Built-in metrics"},
	{customervalue.MetricSaleAmount, "Sale amount", "number", "Built-in metrics"},
	{customervalue.MetricRevenue, "Revenue", "number", "Built-in metrics"},
	{customervalue.MetricPayout, "Payout", "number", "Built-in metrics"},
}

var aggregationChoices = []choice{
	{"any", "Any single value"}, {"sum", "Sum"}, {"count", "Count"}, {"max", "Max"}, {"latest", "Latest"},
}

// operatorLabels word the operators as seed 000 does: text operators by
// name, number operators by sign.
var operatorLabels = map[string]string{
	"text:eq": "Exact match", "text:ne": "Not equal", "text:in": "In list",
	"number:gt": ">", "number:gte": "≥", "number:lt": "<", "number:lte": "≤", "number:eq": "=", "number:between": "Between",
}

// operatorChoices are the choices of a condition's operator for a source of typ
// under an aggregation: customervalue.OperatorsFor, a count being a number
// whatever it counts.
func operatorChoices(typ, aggregation string) []choice {
	if aggregation == string(customervalue.AggCount) || aggregation == string(customervalue.AggSum) || aggregation == string(customervalue.AggMax) {
		typ = string(customervalue.TypeNumber)
	}
	var out []choice
	for _, op := range customervalue.OperatorsFor(typ) {
		out = append(out, choice{op, operatorLabels[typ+":"+op]})
	}
	return out
}

// builderPage renders the builder with the form's rows typed, their
// operators filtered, and the rule's summary.
func (s *Server) valueBuilderPage(w http.ResponseWriter, r *http.Request, status int, v *view, b *valueBuilder, rec *store.CustomerValueRuleRecord) {
	ctx := r.Context()
	d := valueRuleData{B: b, Rule: rec, Aggregations: aggregationChoices, Zone: v.Loc.String(), Kind: "value"}
	var err error
	if d.scopeChoices, err = s.scopeChoices(ctx); err != nil {
		s.errorPage(w, r, err)
		return
	}
	dps, err := s.store.DataPoints(ctx, store.DataPointFilter{Page: store.Page{Limit: listLimit}})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	types := map[string]string{}
	for _, dp := range dps {
		label := dp.Name + " (" + dp.Identifier + ", " + dp.Type + ")"
		if !dp.Active {
			label += ", inactive"
		}
		d.Sources = append(d.Sources, sourceChoice{dp.Identifier, label, dp.Type, "Data points"})
		types[dp.Identifier] = dp.Type
	}
	for _, dp := range b.DataPoints {
		d.Sources = append(d.Sources, sourceChoice{dp.Identifier, dp.Name + " (" + dp.Identifier + ", " + dp.Type + "), new: created with the rule", dp.Type, "New data points"})
		types[dp.Identifier] = dp.Type
	}
	d.Sources = append(d.Sources, metricChoices...)
	for _, m := range metricChoices {
		types[m.Value] = m.Type
	}
	for i := range b.Conditions {
		c := &b.Conditions[i]
		c.Type = types[c.Source]
		c.Ops = operatorChoices(c.Type, c.Aggregation)
		if v.InvalidPrefix(fmt.Sprintf("new_data_point[%d].", c.Index)) {
			c.NewOpen = true
		}
	}
	if rec != nil {
		now := s.now()
		d.Lifecycle, d.Locked = store.CustomerValueLifecycle(rec.Rule, now), rec.GoalsLocked(now)
	}
	f := &form{values: url.Values{}}
	in := b.input(f, v.Loc)
	names, err := s.summaryNames(ctx, d.scopeChoices, b.DataPoints)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	d.Summary = in.Rule.Summary(names)
	s.previewDefaults(b.Values, v.Loc)
	v.Form = b.Values
	v.Data = d
	s.render(w, r, status, "valuerule", v)
}

func (s *Server) newValueRule(w http.ResponseWriter, r *http.Request) {
	v := s.view(r, "New Customer Value rule", "valuerules")
	s.valueBuilderPage(w, r, http.StatusOK, v, newValueForm(v.Loc, s.now()), nil)
}

func (s *Server) valueRule(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	rec, err := s.store.CustomerValueRuleRecord(r.Context(), id)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	v := s.view(r, rec.Name, "valuerules").withFlash(w, r)
	s.valueBuilderPage(w, r, http.StatusOK, v, valueForm(rec.Rule, rec.Status, v.Loc), &rec)
}

// readValueForm reads a posted builder; for a rule whose goals are locked
// it keeps the saved goal and cycle settings (their inputs are disabled
// and not sent), so what is saved and shown is the rule as it runs.
func (s *Server) readValueForm(r *http.Request, rec *store.CustomerValueRuleRecord, loc *time.Location) (*form, *valueBuilder) {
	f := readForm(r)
	b := readValueBuilder(f.values)
	if rec != nil && rec.GoalsLocked(s.now()) {
		saved := valueForm(rec.Rule, rec.Status, loc)
		for _, name := range lockedValueFields {
			if vs, ok := saved.Values[name]; ok {
				b.Values[name] = vs
			} else {
				b.Values.Del(name)
			}
		}
		b.Conditions = saved.Conditions
	}
	return f, b
}

// lockedValueFields are the builder's fields of the settings that lock once
// a rule has run (customervalue.ValidateGoalsChange).
var lockedValueFields = []string{"rule.applies_on", "rule.event", "rule.starts_at", "cycle_kind", "recurring_period",
	"rule.timeframe.anchor", "rule.timeframe.duration_days", "goals", "grouping_kind", "grouping_by",
	"rule.outcome.frequency", "rule.outcome.trigger", "rule.outcome.kind"}

func (s *Server) createValueRule(w http.ResponseWriter, r *http.Request) {
	v := s.view(r, "New Customer Value rule", "valuerules")
	f, b := s.readValueForm(r, nil, v.Loc)
	in := b.input(f, v.Loc)
	err := mergeProblems(f.problems, func() error { _, err := s.store.ValidateCustomerValueRule(r.Context(), in); return err })
	var rec store.CustomerValueRuleRecord
	var created []store.DataPoint
	if err == nil {
		rec, created, err = s.store.CreateCustomerValueRule(r.Context(), in)
	}
	if err != nil {
		s.valueRuleFailed(w, r, v, b, nil, err)
		return
	}
	msg := "Rule " + strconv.Quote(rec.Name) + " created."
	if len(created) > 0 {
		msg += fmt.Sprintf(" %d new data %s created with it.", len(created), map[bool]string{true: "point", false: "points"}[len(created) == 1])
	}
	s.redirect(w, r, fmt.Sprintf("/customer-value-rules/%d", rec.ID), msg)
}

func (s *Server) updateValueRule(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	rec, err := s.store.CustomerValueRuleRecord(r.Context(), id)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	v := s.view(r, rec.Name, "valuerules")
	f, b := s.readValueForm(r, &rec, v.Loc)
	in := b.input(f, v.Loc)
	err = mergeProblems(f.problems, func() error { _, err := s.store.ValidateCustomerValueRule(r.Context(), in); return err })
	if err == nil {
		_, _, err = s.store.ReplaceCustomerValueRule(r.Context(), id, in, s.now())
	}
	if err != nil {
		s.valueRuleFailed(w, r, v, b, &rec, err)
		return
	}
	s.redirect(w, r, fmt.Sprintf("/customer-value-rules/%d", id), "Rule saved.")
}

// valueRuleFailed shows the builder again with every problem next to its
// field: the form's own and the store's, at once.
func (s *Server) valueRuleFailed(w http.ResponseWriter, r *http.Request, v *view, b *valueBuilder, rec *store.CustomerValueRuleRecord, err error) {
	var invalid *store.InvalidError
	switch {
	case errors.As(err, &invalid):
		v.problems(invalid.Problems, valueRuleFields)
		s.valueBuilderPage(w, r, http.StatusBadRequest, v, b, rec)
	case errors.Is(err, store.ErrConflict):
		v.Alerts = append(v.Alerts, conflictMessage(err))
		s.valueBuilderPage(w, r, http.StatusConflict, v, b, rec)
	default:
		s.errorPage(w, r, err)
	}
}

// draftValueRule answers the builder's own buttons and changes without
// saving anything: add or remove a condition, create a data point from a
// row, or just show the form again with each row's operators filtered to
// its source and the summary of the rule as it stands. htmx swaps in the
// part that changed; without JavaScript it is the whole page.
func (s *Server) draftValueRule(w http.ResponseWriter, r *http.Request) {
	var rec *store.CustomerValueRuleRecord
	f := readForm(r)
	if id, err := strconv.ParseInt(f.str("rule_id"), 10, 64); err == nil && id > 0 {
		saved, err := s.store.CustomerValueRuleRecord(r.Context(), id)
		if err != nil {
			s.errorPage(w, r, err)
			return
		}
		rec = &saved
	}
	title := "New Customer Value rule"
	if rec != nil {
		title = rec.Name
	}
	v := s.view(r, title, "valuerules")
	_, b := s.readValueForm(r, rec, v.Loc)
	action, arg, _ := strings.Cut(f.str("action"), ":")
	i, _ := strconv.Atoi(arg)
	switch action {
	case "add_condition":
		b.Conditions = append(b.Conditions, conditionRow{Index: len(b.Conditions)})
		b.Values.Set("goals", "yes")
	case "remove_condition":
		if i >= 0 && i < len(b.Conditions) {
			b.Conditions = slices.Delete(b.Conditions, i, i+1)
			for j := range b.Conditions {
				b.Conditions[j].Index = j
			}
		}
	case "create_data_point":
		if i >= 0 && i < len(b.Conditions) {
			s.createRowDataPoint(r, v, b, i)
		}
	case "remove_data_point":
		if i >= 0 && i < len(b.DataPoints) {
			gone := b.DataPoints[i].Identifier
			b.DataPoints = slices.Delete(b.DataPoints, i, i+1)
			for j := range b.Conditions {
				if b.Conditions[j].Source == gone {
					b.Conditions[j].Source = ""
				}
			}
		}
	}
	s.valueBuilderPage(w, r, http.StatusOK, v, b, rec)
}

// createRowDataPoint adds the data point typed into row i to the data
// points the rule creates, and makes it the row's source: usable at once.
// It is checked as saving the rule checks its inline data points (the
// store's own checks, nothing written); its problems show in the row.
func (s *Server) createRowDataPoint(r *http.Request, v *view, b *valueBuilder, i int) {
	row := &b.Conditions[i]
	dp := row.New
	k := len(b.DataPoints)
	in := store.CustomerValueRuleInput{DataPoints: append(slices.Clone(b.DataPoints), dp)}
	_, err := s.store.ValidateCustomerValueRule(r.Context(), in)
	var invalid *store.InvalidError
	if errors.As(err, &invalid) {
		prefix := fmt.Sprintf("data_points[%d].", k)
		var ps []store.Problem
		for _, p := range invalid.Problems {
			if rest, ok := strings.CutPrefix(p.Field, prefix); ok {
				ps = append(ps, store.Problem{Field: fmt.Sprintf("new_data_point[%d].%s", i, rest), Message: p.Message})
			}
		}
		if len(ps) > 0 {
			v.Refused = "Data point not added"
			v.problems(ps, valueRuleFields)
			row.NewOpen = true
			return
		}
	} else if err != nil {
		v.Alerts = append(v.Alerts, "The data point could not be checked: "+err.Error())
		return
	}
	b.DataPoints = append(b.DataPoints, dp)
	row.Source, row.New, row.NewOpen = dp.Identifier, store.DataPointInput{}, false
	if row.Aggregation == "" {
		row.Aggregation = string(customervalue.AggAny)
	}
	row.Operator = ""
	v.Flash = fmt.Sprintf("Data point %q (%s) added: it is created with the rule.", dp.Name, dp.Identifier)
}

func (s *Server) pauseValueRule(w http.ResponseWriter, r *http.Request) {
	s.setValueRuleStatus(w, r, false)
}

func (s *Server) resumeValueRule(w http.ResponseWriter, r *http.Request) {
	s.setValueRuleStatus(w, r, true)
}

func (s *Server) setValueRuleStatus(w http.ResponseWriter, r *http.Request, active bool) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	set, msg := s.store.PauseCustomerValueRule, "Rule paused: it neither counts conversions nor pays until it is resumed."
	if active {
		set, msg = s.store.ResumeCustomerValueRule, "Rule resumed."
	}
	if _, err := set(r.Context(), id, s.now()); err != nil {
		if errors.Is(err, store.ErrConflict) {
			rec, rerr := s.store.CustomerValueRuleRecord(r.Context(), id)
			if rerr != nil {
				s.errorPage(w, r, rerr)
				return
			}
			v := s.view(r, rec.Name, "valuerules")
			v.Alerts = append(v.Alerts, conflictMessage(err))
			s.valueBuilderPage(w, r, http.StatusConflict, v, valueForm(rec.Rule, rec.Status, v.Loc), &rec)
			return
		}
		s.errorPage(w, r, err)
		return
	}
	s.redirect(w, r, fmt.Sprintf("/customer-value-rules/%d", id), msg)
}
