package store

import (
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/limits"
	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/tiered"
)

// The bounds of every amount and rate an admin can set (DESIGN §14.3,
// package limits), by the shape of the input that carries it. Migration 0009
// repeats the ones that have columns.

// checkBound adds check's problem with d, if any, to field.
func checkBound(p *Problems, field string, d decimal.Decimal, check func(decimal.Decimal) error) {
	if err := check(d); err != nil {
		p.Add(field, "%v", err)
	}
}

// checkText adds a problem when s is not text of at most max characters.
func checkText(p *Problems, field, s string, max int, multiline bool) {
	if err := limits.Text(s, max, multiline); err != nil {
		p.Add(field, "%v", err)
	}
}

// The rates' own Validate reports a negative amount or percent; these add
// the upper bounds and the decimal places.
func payoutRateBounds(p *Problems, field string, r pricing.PayoutRate) {
	checkBound(p, field+".amount", r.Amount, limits.SignedAmount)
	checkBound(p, field+".percent", r.Percent.Abs(), limits.Percent)
}

func revenueRateBounds(p *Problems, field string, r pricing.RevenueRate) {
	checkBound(p, field+".amount", r.Amount, limits.SignedAmount)
	checkBound(p, field+".percent", r.Percent.Abs(), limits.Percent)
}

// tieredRuleBounds checks a tiered rule's band bounds and adjustments: a
// percent increase or decrease up to 1,000 %, a rate of sale or revenue up
// to 100 %, a flat or fixed amount and a bound up to the largest amount.
func tieredRuleBounds(p *Problems, r tiered.Rule) {
	for i, b := range r.Bands {
		band := fmt.Sprintf("bands[%d]", i)
		for j, bound := range b.Bounds {
			field := fmt.Sprintf("%s.bounds[%d]", band, j)
			if bound.Min != nil {
				checkBound(p, field+".min", *bound.Min, limits.Amount)
			}
			if bound.Max != nil {
				checkBound(p, field+".max", *bound.Max, limits.Amount)
			}
		}
		for name, adj := range map[string]*tiered.Adjustment{
			"payout": b.Payout, "revenue": b.Revenue, "retro_payout": b.RetroPayout, "retro_revenue": b.RetroRevenue,
		} {
			if adj == nil {
				continue
			}
			check := limits.Amount
			switch {
			case adj.By == tiered.ByPercent:
				check = limits.AdjustmentPercent
			case adj.Rate == tiered.RateSalePercent, adj.Rate == tiered.RateRevenuePercent:
				check = limits.Percent
			}
			checkBound(p, band+"."+name+".value", adj.Value, check)
		}
	}
}

// customerValueRuleBounds checks a Customer Value rule's texts, number
// condition values and outcome rates.
func customerValueRuleBounds(p *Problems, prefix string, r customervalue.Rule) {
	checkText(p, prefix+"name", r.Name, maxNameLength, false)
	for i, c := range r.Conditions {
		field := fmt.Sprintf("%sconditions[%d]", prefix, i)
		checkText(p, field+".value", c.Value, limits.MaxTextValueLength, false)
		for j, v := range c.Values {
			checkText(p, fmt.Sprintf("%s.values[%d]", field, j), v, limits.MaxTextValueLength, false)
		}
		// A number the rule's own validation parses must be in bounds too.
		if d, err := decimal.NewFromString(c.Value); err == nil && (c.Type != customervalue.TypeText || c.Aggregation == customervalue.AggCount) {
			checkBound(p, field+".value", d, limits.SignedAmount)
		}
		if c.Min != nil {
			checkBound(p, field+".min", *c.Min, limits.SignedAmount)
		}
		if c.Max != nil {
			checkBound(p, field+".max", *c.Max, limits.SignedAmount)
		}
	}
	rates := map[string]*customervalue.Rate{"outcome.payout": &r.Outcome.Payout, "outcome.revenue_adjustment": r.Outcome.RevenueAdjustment}
	for field, rate := range rates {
		if rate == nil {
			continue
		}
		checkBound(p, prefix+field+".amount", rate.Amount, limits.Amount)
		checkBound(p, prefix+field+".percent", rate.Percent, limits.Percent)
	}
}
