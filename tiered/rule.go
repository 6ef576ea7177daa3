package tiered

import (
	"time"

	"github.com/shopspring/decimal"
)

// Period is how often a rule's metrics reset: each period is a calendar
// period in the network's time zone (DESIGN.md §13.18).
type Period string

// The periods of DESIGN.md §8.
const (
	PeriodDaily     Period = "daily"     // each local day
	PeriodWeekly    Period = "weekly"    // Monday to Sunday
	PeriodMonthly   Period = "monthly"   // each calendar month
	PeriodQuarterly Period = "quarterly" // from Jan 1, Apr 1, Jul 1 and Oct 1
	PeriodGlobal    Period = "global"    // the rule's whole date range, never reset
)

// Metric is what a band's bound measures, per rule × partner × offer × period
// (DESIGN.md §13.8).
type Metric string

// The metrics of DESIGN.md §8. Amounts are layer 1–3 amounts, before any
// tiered adjustment.
const (
	MetricConversions Metric = "conversions" // base conversions counted
	MetricEventCount  Metric = "event_count" // named events counted
	MetricSaleAmount  Metric = "sale_amount" // sum of sale amounts
	MetricRevenue     Metric = "revenue"     // sum of layer 1–3 revenues
	MetricPayout      Metric = "payout"      // sum of layer 1–3 payouts
)

// metrics lists every metric in a fixed order, for messages.
var metrics = []Metric{MetricConversions, MetricEventCount, MetricSaleAmount, MetricRevenue, MetricPayout}

// AppliesTo says which conversions of the scope a rule adjusts and counts.
type AppliesTo string

// The applies-to choices of DESIGN.md §8.
const (
	AppliesToBase  AppliesTo = "base"  // the base conversion only
	AppliesToEvent AppliesTo = "event" // one named event (Rule.Event)
	AppliesToAll   AppliesTo = "all"   // the base conversion and every event
)

// RetroMode says what happens to a period's earlier conversions when a
// partner reaches a higher band (DESIGN.md §8, §13.10, §13.11).
type RetroMode string

// The retroactive modes. An empty mode means RetroDisabled, the default.
const (
	RetroDisabled RetroMode = "disabled" // a new band applies from the conversion that reaches it
	RetroEnabled  RetroMode = "enabled"  // earlier unpaid conversions are re-priced to the new band
	RetroCustom   RetroMode = "custom"   // earlier unpaid conversions get the band's retro adjustments
)

// Adjustment actions, ways and rates (the values of Adjustment's fields).
const (
	ActionIncrease = "increase" // raise the layer 1–3 amount, By a percent of it or a flat amount
	ActionDecrease = "decrease" // lower the layer 1–3 amount, By a percent of it or a flat amount; floors at 0
	ActionSet      = "set"      // replace the layer 1–3 amount with a Rate

	ByPercent = "percent" // Value is a percent of the conversion's layer 1–3 amount (10 means 10%)
	ByFlat    = "flat"    // Value is an amount in the offer's currency

	RateFixed          = "fixed"           // Value is the amount
	RateSalePercent    = "sale_percent"    // Value is a percent of the conversion's sale amount
	RateRevenuePercent = "revenue_percent" // Value is a percent of the conversion's layer 1–3 revenue
)

// Bound is one threshold of a band: it holds for Metric when the metric's
// value is above Min (Min nil: from zero, i.e. value ≥ 0) and at most Max
// (Max nil: no upper bound). Bands written as (0, 100] and (100, ∞) meet
// without a gap: 100 is in the first, 100.01 in the second.
type Bound struct {
	Metric Metric           `json:"metric"`
	Min    *decimal.Decimal `json:"min,omitempty"` // exclusive
	Max    *decimal.Decimal `json:"max,omitempty"` // inclusive
}

// Adjustment changes one amount (the payout or the revenue) of a
// conversion. Action "increase" or "decrease" takes By "percent" (of the
// conversion's layer 1–3 amount) or "flat" (an amount); Action "set" takes
// Rate "fixed" (an amount), "sale_percent" (a percent of the sale amount) or
// "revenue_percent" (a percent of the layer 1–3 revenue). The result is
// never below zero.
type Adjustment struct {
	Action string          `json:"action"`
	By     string          `json:"by,omitempty"`   // increase and decrease only
	Rate   string          `json:"rate,omitempty"` // set only
	Value  decimal.Decimal `json:"value"`          // a percent (10 means 10%) or an amount
}

// Band is one tier of a rule: it holds when all of its bounds hold, and then
// adjusts the conversion's payout and revenue.
type Band struct {
	Name   string  `json:"name"`
	Bounds []Bound `json:"bounds"` // all must hold
	// Payout and Revenue adjust the conversion's amounts while the band is
	// the period's band; nil: the band does not change that amount.
	Payout  *Adjustment `json:"payout,omitempty"`
	Revenue *Adjustment `json:"revenue,omitempty"`
	// RetroPayout and RetroRevenue are for RetroCustom only: what earlier
	// unpaid conversions of the period get when the partner reaches this
	// band (DESIGN.md §13.11); nil: those conversions keep that amount as it
	// is.
	RetroPayout  *Adjustment `json:"retro_payout,omitempty"`
	RetroRevenue *Adjustment `json:"retro_revenue,omitempty"`
}

// Rule is a Tiered Commission: performance bands per period that adjust the
// payout and revenue of the conversions in its scope (DESIGN.md §8).
type Rule struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Active bool   `json:"active"`
	// OfferIDs and AdvertiserIDs are the scope: the rule covers a conversion
	// whose offer is listed or whose offer's advertiser is listed. At least
	// one of the two is non-empty.
	OfferIDs      []int64 `json:"offer_ids,omitempty"`
	AdvertiserIDs []int64 `json:"advertiser_ids,omitempty"`
	// PartnerIDs lists the partners the rule is for; empty: all partners.
	PartnerIDs []int64 `json:"partner_ids,omitempty"`
	// AppliesTo says which conversions the rule adjusts and counts; Event
	// names the event when AppliesTo is AppliesToEvent, and is empty
	// otherwise.
	AppliesTo AppliesTo `json:"applies_to"`
	Event     string    `json:"event,omitempty"`
	// StartDate and EndDate are local dates ("YYYY-MM-DD") in the network's
	// time zone. The rule starts at the first instant of StartDate and runs
	// to the end of EndDate inclusive (23:59:59.999999), i.e. until the
	// first instant of the next day. StartDate is required; no EndDate: the
	// rule never ends.
	StartDate string `json:"start_date"`
	EndDate   string `json:"end_date,omitempty"`
	Period    Period `json:"period"`
	// Bands are ordered lowest first and never overlap.
	Bands []Band `json:"bands"`
	// Retro is the retroactive mode; empty means RetroDisabled.
	Retro RetroMode `json:"retro_mode,omitempty"`
	// CreatedAt decides priority between rules: the newest wins.
	CreatedAt time.Time `json:"created_at"`
}

// RetroMode returns the rule's retroactive mode, RetroDisabled when unset.
func (r Rule) RetroMode() RetroMode {
	if r.Retro == "" {
		return RetroDisabled
	}
	return r.Retro
}

// AllPartners reports whether the rule is for all partners (it lists none).
func (r Rule) AllPartners() bool { return len(r.PartnerIDs) == 0 }
