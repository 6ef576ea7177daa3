package tiered

import (
	"github.com/shopspring/decimal"
)

// Priced is an earlier conversion of a period, as retroactive re-pricing
// sees it.
type Priced struct {
	ConversionID int64 `json:"conversion_id"`
	// Amounts are its current layer 1–3 amounts, manual edits and partial
	// refunds included.
	Amounts Amounts `json:"amounts"`
	// TieredPayout and TieredRevenue are the sums of its current tiered
	// lines (the original ones and every delta since).
	TieredPayout  decimal.Decimal `json:"tiered_payout"`
	TieredRevenue decimal.Decimal `json:"tiered_revenue"`
	// Band is the band its current tiered lines are at (the Explanation.Band
	// of its latest pricing or re-pricing by this rule, -1 for none), nil
	// when the caller does not say (it then passes only conversions below
	// the new band). Conversions already at the new band or above are left
	// alone: in custom mode they keep the band's own adjustment, not its
	// retro one. A pointer, so that a forgotten band re-prices rather than
	// silently skipping everything at band 0.
	Band *int `json:"band,omitempty"`
	// Paid is true once any of its payout lines is in a payout run; a paid
	// conversion is never re-banded (DESIGN.md §13.12).
	Paid bool `json:"paid"`
	// PayoutOverridden and RevenueOverridden are true when a Customer Value
	// override has replaced the conversion's layer 1–4 payout (revenue):
	// the override's amount stands, so re-pricing keeps that amount
	// (DESIGN.md §13.7).
	PayoutOverridden  bool `json:"payout_overridden,omitempty"`
	RevenueOverridden bool `json:"revenue_overridden,omitempty"`
	// PayoutAdjustment and RevenueAdjustment are the adjustments its current
	// tiered lines carry (its explanation's), nil for none. An amount the
	// re-pricing keeps keeps its adjustment, so a later refund recomputes
	// under it (Recompute).
	PayoutAdjustment  *Adjustment `json:"payout_adjustment,omitempty"`
	RevenueAdjustment *Adjustment `json:"revenue_adjustment,omitempty"`
}

// Delta is what re-pricing writes for one conversion: a tiered payout line
// and a tiered revenue line of these amounts (a zero one is not written).
type Delta struct {
	ConversionID int64           `json:"conversion_id"`
	Payout       decimal.Decimal `json:"payout"`
	Revenue      decimal.Decimal `json:"revenue"`
	Explanation  Explanation     `json:"explanation"`
}

// Reprice computes the delta lines that bring the period's earlier
// conversions to band of rule r when a partner reaches it (DESIGN.md
// §13.10, §13.11): for each unpaid conversion below band (Priced.Band,
// when given),
// the tiered lines ApplyRetro gives on its current amounts minus the tiered
// amounts it already has, skipping any amount ApplyRetro keeps. Paid
// conversions, conversions already at band or above, and conversions whose
// deltas are both zero are left out; with RetroDisabled or band -1 it
// returns nil. An amount a Customer Value override has replaced is kept.
// The deltas are differences of rounded amounts, so they
// are rounded too, and running Reprice again on the updated conversions
// returns nothing.
func Reprice(r Rule, band int, conversions []Priced) []Delta {
	if band < 0 || band >= len(r.Bands) {
		return nil
	}
	if mode := r.RetroMode(); mode != RetroEnabled && mode != RetroCustom {
		return nil
	}
	var out []Delta
	for _, c := range conversions {
		if c.Paid || (c.Band != nil && *c.Band >= band) {
			continue
		}
		res := ApplyRetro(r, band, c.Amounts)
		e := res.Explanation
		if c.PayoutOverridden {
			e.Payout = carried(e.Payout, c.PayoutAdjustment, overridden)
		}
		if c.RevenueOverridden {
			e.Revenue = carried(e.Revenue, c.RevenueAdjustment, overridden)
		}
		if e.Payout.Keep && !c.PayoutOverridden {
			e.Payout = carried(e.Payout, c.PayoutAdjustment, e.Payout.Reason)
		}
		if e.Revenue.Keep && !c.RevenueOverridden {
			e.Revenue = carried(e.Revenue, c.RevenueAdjustment, e.Revenue.Reason)
		}
		payout := delta(&e.Payout, res.Payout, c.TieredPayout)
		revenue := delta(&e.Revenue, res.Revenue, c.TieredRevenue)
		if payout.IsZero() && revenue.IsZero() {
			continue
		}
		out = append(out, Delta{ConversionID: c.ConversionID, Payout: payout, Revenue: revenue, Explanation: e})
	}
	return out
}

const overridden = "a Customer Value override sets this amount"

// carried is a line that re-pricing keeps: the amount stays as it is and
// keeps the adjustment it carries.
func carried(l Line, adj *Adjustment, why string) Line {
	k := Line{Keep: true, Reason: why, Base: l.Base, Exact: l.Base, Target: l.Base, Amount: zero}
	if adj != nil {
		a := *adj
		a.Value = canonical(a.Value)
		k.Adjustment = &a
		k.Reason = why + "; it keeps its " + a.describe()
	}
	return k
}

// delta records in l what the conversion had and the line still to write.
func delta(l *Line, target, previous decimal.Decimal) decimal.Decimal {
	prev := canonical(previous)
	d := zero
	if !l.Keep {
		d = canonical(target.Sub(previous))
	}
	l.Previous, l.Delta = &prev, &d
	return d
}

// describe words an adjustment for explanations: "10% increase",
// "3 flat decrease", "set to 12.5% of the sale amount".
func (a Adjustment) describe() string {
	v := a.Value.String()
	switch a.Action + "/" + a.By + a.Rate {
	case ActionIncrease + "/" + ByPercent:
		return v + "% increase"
	case ActionIncrease + "/" + ByFlat:
		return v + " flat increase"
	case ActionDecrease + "/" + ByPercent:
		return v + "% decrease"
	case ActionDecrease + "/" + ByFlat:
		return v + " flat decrease"
	case ActionSet + "/" + RateFixed:
		return "set to " + v + " fixed"
	case ActionSet + "/" + RateSalePercent:
		return "set to " + v + "% of the sale amount"
	case ActionSet + "/" + RateRevenuePercent:
		return "set to " + v + "% of the layer 1–3 revenue"
	}
	return a.Action + " " + a.By + a.Rate + " " + v
}
