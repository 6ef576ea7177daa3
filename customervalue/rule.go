package customervalue

import (
	"slices"
	"time"

	"github.com/shopspring/decimal"
)

// DataPointType is the type of a data point. It is fixed when the data point
// is created.
type DataPointType string

// The data point types of DESIGN.md §7.
const (
	TypeText   DataPointType = "text"
	TypeNumber DataPointType = "number"
)

// DataPoint is a postback parameter captured on conversions: its identifier
// (lower-case, unique, immutable: the parameter name and the key of
// Conversion.Data) and its type.
type DataPoint struct {
	Identifier string        `json:"identifier"`
	Type       DataPointType `json:"type"`
}

// AppliesOn says which conversions a rule sees.
type AppliesOn string

// The choices of "Apply rule on".
const (
	AppliesOnBase  AppliesOn = "base"  // the base conversion only
	AppliesOnEvent AppliesOn = "event" // one named event (Rule.Event)
	AppliesOnAll   AppliesOn = "all"   // the base conversion and every event
)

// Cycle is a rule's goal cycle: continuous (the customer's lifetime, or the
// rule's window) or a recurring calendar period in the network's time zone.
type Cycle string

// The goal cycles. Recurring cycles are calendar periods in the network time
// zone: a day starts at its first local instant, a week on Monday, a quarter
// on Jan 1, Apr 1, Jul 1 and Oct 1.
const (
	CycleContinuous Cycle = "continuous"
	CycleDaily      Cycle = "daily"
	CycleWeekly     Cycle = "weekly"
	CycleMonthly    Cycle = "monthly"
	CycleQuarterly  Cycle = "quarterly"
)

// Anchor is where a rule's window starts.
type Anchor string

// The anchors.
const (
	// AnchorFirstConversion starts the window at the customer's earliest
	// approved conversion in the rule's scope (also one before the rule's
	// start, DESIGN §13.17).
	AnchorFirstConversion Anchor = "first_conversion"
	// AnchorRuleStart starts the window at the rule's StartsAt.
	AnchorRuleStart Anchor = "rule_start"
)

// Grouping says how a customer's activity is grouped for the goal: all
// conditions must be met inside one group.
type Grouping string

// The scope groupings.
const (
	GroupAll     Grouping = "all"     // all the customer's activity together
	GroupOffer   Grouping = "offer"   // separately by offer
	GroupPartner Grouping = "partner" // separately by partner
)

// Aggregation says how a condition folds the values of the cycle's
// conversions into one.
type Aggregation string

// The aggregations (DESIGN §13.20).
const (
	AggAny    Aggregation = "any"    // some single value satisfies the operator; none: not met
	AggSum    Aggregation = "sum"    // the sum; of nothing it is 0
	AggCount  Aggregation = "count"  // how many conversions carry a value; of nothing it is 0
	AggMax    Aggregation = "max"    // the largest value; none: not met
	AggLatest Aggregation = "latest" // the value of the latest conversion by timestamp; none: not met
)

// Operator compares a condition's aggregate with its value.
type Operator string

// The operators. Text operators compare exactly (case-sensitive); number
// operators compare decimals (200 equals 200.00).
const (
	OpEq      Operator = "eq"      // text: exact match; number: =
	OpNe      Operator = "ne"      // text: not equal
	OpIn      Operator = "in"      // text: one of Values
	OpGt      Operator = "gt"      // number: >
	OpGte     Operator = "gte"     // number: ≥
	OpLt      Operator = "lt"      // number: <
	OpLte     Operator = "lte"     // number: ≤
	OpBetween Operator = "between" // number: Min ≤ x ≤ Max, both inclusive
)

// The built-in metrics a condition can use instead of a data point. Amounts
// are the conversion's layer 1–3 values; they take precedence over a data
// point with the same identifier.
const (
	MetricConversionCount = "conversion_count" // base conversions
	MetricEventCount      = "event_count"      // additional events
	MetricSaleAmount      = "sale_amount"
	MetricRevenue         = "revenue"
	MetricPayout          = "payout"
)

// Frequency says how often a rule's outcome is given.
type Frequency string

// The frequencies. "Once" counts per scope group (DESIGN §13.15).
const (
	OncePerCustomer Frequency = "once_per_customer" // once per (customer, group)
	OncePerCycle    Frequency = "once_per_cycle"    // once per (customer, group, cycle)
	EveryConversion Frequency = "every_conversion"  // on every qualifying conversion
)

// Trigger says when a rule's outcome is given.
type Trigger string

// The triggers.
const (
	// TriggerInstant gives the outcome on the conversion after which all
	// conditions hold.
	TriggerInstant Trigger = "instant"
	// TriggerEndOfCycle gives it when the cycle ends, judged on the whole
	// cycle (State.Due).
	TriggerEndOfCycle Trigger = "end_of_cycle"
)

// Kind is what an outcome does to the ledger.
type Kind string

// The outcome kinds.
const (
	// KindBonus is an extra payout line on top of the conversion's payout.
	KindBonus Kind = "bonus"
	// KindOverride replaces the conversion's layer 1–4 payout (DESIGN §13.7).
	KindOverride Kind = "override"
)

// RateType says how an outcome's amount is computed.
type RateType string

// The rate types.
const (
	// RateFixed is Rate.Amount.
	RateFixed RateType = "fixed"
	// RatePercent is Rate.Percent of Rate.Base: for a bonus paid on every
	// conversion, of that conversion's own amount; for an instant once-bonus,
	// of the cycle's total up to and including the completing conversion; for
	// an end-of-cycle bonus, of the whole cycle net of refunds (§13.16); for a
	// revenue adjustment of an override, of the conversion's own amount.
	RatePercent RateType = "percent"
	// RateRevShare is Rate.Percent of the conversion's current sale amount:
	// overrides only (§13.7).
	RateRevShare RateType = "revshare"
)

// Base is the amount a percent rate is taken of.
type Base string

// The percent bases.
const (
	BaseRevenue    Base = "revenue"
	BaseSaleAmount Base = "sale_amount"
)

// Rule is a Customer Value rule (DESIGN §7): what activity of one customer it
// watches, the goal, and the outcome when the goal is met. It is stored as
// JSON and sent over the API with these snake_case keys; amounts are decimal
// strings and times are RFC 3339 instants.
type Rule struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Active bool   `json:"active"` // false: paused; a paused rule neither counts nor pays
	// CreatedAt orders overrides: between two that name the partner (or two
	// that do not), the newer one wins.
	CreatedAt time.Time `json:"created_at"`

	// Scope: each list empty means all.
	PartnerIDs    []int64 `json:"partner_ids,omitempty"`
	OfferIDs      []int64 `json:"offer_ids,omitempty"`
	AdvertiserIDs []int64 `json:"advertiser_ids,omitempty"`

	AppliesOn AppliesOn `json:"applies_on"`
	Event     string    `json:"event,omitempty"` // the event name, with AppliesOnEvent only

	// StartsAt is inclusive; EndsAt, when set, exclusive. Both are instants.
	StartsAt time.Time  `json:"starts_at"`
	EndsAt   *time.Time `json:"ends_at,omitempty"`

	Timeframe Timeframe `json:"timeframe"`
	// Conditions must all be met, in any order, inside one group and cycle.
	// None: the rule applies to all activity in its timeframe.
	Conditions []Condition `json:"conditions,omitempty"`
	Grouping   Grouping    `json:"grouping"`
	Outcome    RuleOutcome `json:"outcome"`
}

// Timeframe is a rule's goal cycle and window.
type Timeframe struct {
	Cycle  Cycle  `json:"cycle"`
	Anchor Anchor `json:"anchor"`
	// DurationDays, when positive, limits the rule to the window [anchor,
	// anchor + DurationDays × 24 h), end exclusive, in absolute time, cut by
	// the rule's StartsAt and EndsAt. 0 means no duration: the window is the
	// rule's dates.
	DurationDays int `json:"duration_days,omitempty"`
}

// Condition is one goal condition: an aggregation of a data point or a
// built-in metric over the group's conversions in the cycle, compared with a
// value.
type Condition struct {
	// Source is a data point identifier or a built-in metric
	// (conversion_count, event_count, sale_amount, revenue, payout).
	Source string `json:"source"`
	// Type is the data point's type (immutable, so it is safe to store with
	// the rule; Rule.ResolveTypes fills it in). Built-in metrics are numbers
	// and may leave it empty. Evaluation needs it to tell a text "eq" from a
	// number "eq".
	Type        DataPointType `json:"type,omitempty"`
	Aggregation Aggregation   `json:"aggregation"`
	Operator    Operator      `json:"operator"`
	// Value is the operand of eq, ne, gt, gte, lt and lte: text as is, or a
	// number as a decimal string.
	Value string `json:"value,omitempty"`
	// Values is the list of "in".
	Values []string `json:"values,omitempty"`
	// Min and Max bound "between", both inclusive.
	Min *decimal.Decimal `json:"min,omitempty"`
	Max *decimal.Decimal `json:"max,omitempty"`
}

// RuleOutcome is what a rule gives when its goal is met.
type RuleOutcome struct {
	Frequency Frequency `json:"frequency"`
	Trigger   Trigger   `json:"trigger"`
	Kind      Kind      `json:"kind"`
	// Payout is the bonus amount (fixed, or percent of revenue or sale
	// amount), or the override's payout (fixed, or revshare: percent of the
	// conversion's sale amount).
	Payout Rate `json:"payout"`
	// RevenueAdjustment, when set, also sets a revenue: for a bonus an extra
	// revenue amount on the bonus line, for an override the conversion's
	// revenue target. Fixed or percent (of the same base as a percent bonus
	// would be, or of the conversion's own amount for an override).
	RevenueAdjustment *Rate `json:"revenue_adjustment,omitempty"`
}

// Rate is how an outcome's amount is computed.
type Rate struct {
	Type    RateType        `json:"type"`
	Amount  decimal.Decimal `json:"amount"`         // fixed only
	Percent decimal.Decimal `json:"percent"`        // percent and revshare; 10 means 10%
	Base    Base            `json:"base,omitempty"` // percent only
}

// ResolveTypes sets the Type of every condition whose source is a data point
// from dataPoints and whose Type is empty, so a rule typed in the editor
// without types validates and evaluates. Built-in metrics are left empty.
func (r *Rule) ResolveTypes(dataPoints []DataPoint) {
	for i := range r.Conditions {
		c := &r.Conditions[i]
		if c.Type != "" || isMetric(c.Source) {
			continue
		}
		if dp, ok := findDataPoint(dataPoints, c.Source); ok {
			c.Type = dp.Type
		}
	}
}

// Conversion is one approved conversion of the customer, as the Customer
// Value layer sees it: its layer 1–3 amounts and its data points.
type Conversion struct {
	ID           int64  `json:"id"`
	PartnerID    int64  `json:"partner_id"`
	OfferID      int64  `json:"offer_id"`
	AdvertiserID int64  `json:"advertiser_id"`
	Event        string `json:"event,omitempty"` // "" for the base conversion
	// At is the conversion's own timestamp: it decides the cycle and the
	// window, so late and backdated conversions land where they belong.
	At       time.Time `json:"at"`
	Currency string    `json:"currency"`
	// SaleAmount, Revenue and Payout are the layer 1–3 amounts (current
	// values, manual edits included). A zero amount counts as not sent.
	SaleAmount decimal.Decimal `json:"sale_amount"`
	Revenue    decimal.Decimal `json:"revenue"`
	Payout     decimal.Decimal `json:"payout"`
	// Data maps a data point identifier to the raw value the postback sent;
	// numbers as decimal strings. An empty value counts as not sent.
	Data map[string]string `json:"data,omitempty"`
}

// matches reports whether the rule's scope and applies-on take in a
// conversion of this advertiser, offer, partner and event.
func (r *Rule) matches(advertiserID, offerID, partnerID int64, event string) bool {
	if !inScope(r.AdvertiserIDs, advertiserID) || !inScope(r.OfferIDs, offerID) || !inScope(r.PartnerIDs, partnerID) {
		return false
	}
	switch r.AppliesOn {
	case AppliesOnBase:
		return event == ""
	case AppliesOnEvent:
		return event != "" && event == r.Event
	case AppliesOnAll:
		return true
	}
	return false
}

func inScope(ids []int64, id int64) bool { return len(ids) == 0 || slices.Contains(ids, id) }

// group returns the scope group of a conversion: "all", "offer:<id>" or
// "partner:<id>".
func (r *Rule) group(c *Conversion) string {
	switch r.Grouping {
	case GroupOffer:
		return "offer:" + itoa(c.OfferID)
	case GroupPartner:
		return "partner:" + itoa(c.PartnerID)
	}
	return "all"
}

// keepsEntries reports whether the rule needs the conversions of a cycle
// kept: to evaluate conditions, to replay the cycle at its end, or to sum the
// cycle for a percent once-bonus. A rule without any of these keeps only its
// cycle and spent markers.
func (r *Rule) keepsEntries() bool {
	o := &r.Outcome
	return len(r.Conditions) > 0 || o.Trigger == TriggerEndOfCycle ||
		(o.Kind == KindBonus && o.Frequency != EveryConversion &&
			(o.Payout.Type == RatePercent || (o.RevenueAdjustment != nil && o.RevenueAdjustment.Type == RatePercent)))
}

// keptDataPoints returns the data point identifiers the conditions read.
func (r *Rule) keptDataPoints() []string {
	var ids []string
	for _, c := range r.Conditions {
		if !isMetric(c.Source) && !slices.Contains(ids, c.Source) {
			ids = append(ids, c.Source)
		}
	}
	return ids
}

func (r *Rule) usesPayoutMetric() bool {
	return slices.ContainsFunc(r.Conditions, func(c Condition) bool { return c.Source == MetricPayout })
}

// namesPartner reports whether the rule lists partners (an override that
// names the partner beats one for all partners).
func (r *Rule) namesPartner() bool { return len(r.PartnerIDs) > 0 }

func isMetric(source string) bool {
	switch source {
	case MetricConversionCount, MetricEventCount, MetricSaleAmount, MetricRevenue, MetricPayout:
		return true
	}
	return false
}

func findDataPoint(dataPoints []DataPoint, identifier string) (DataPoint, bool) {
	for _, dp := range dataPoints {
		if dp.Identifier == identifier {
			return dp, true
		}
	}
	return DataPoint{}, false
}

// sortedRules returns the rules ordered by ID, so every result is
// independent of the caller's order.
func sortedRules(rules []Rule) []*Rule {
	out := make([]*Rule, len(rules))
	for i := range rules {
		out[i] = &rules[i]
	}
	slices.SortStableFunc(out, func(a, b *Rule) int { return cmpInt(a.ID, b.ID) })
	return out
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
