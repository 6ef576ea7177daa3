package tiered

import (
	"github.com/shopspring/decimal"
)

// Metrics are a rule's running values for one partner × offer × period:
// approved conversions in the rule's applies-to set, the one being priced
// included, with layer 1–3 amounts (DESIGN.md §13.8).
type Metrics struct {
	Conversions int64           `json:"conversions"` // base conversions
	EventCount  int64           `json:"event_count"` // named events
	SaleAmount  decimal.Decimal `json:"sale_amount"`
	Revenue     decimal.Decimal `json:"revenue"`
	Payout      decimal.Decimal `json:"payout"`
}

// Contribution is what one conversion, refund or reversal adds to a rule's
// metrics. Amounts are layer 1–3 amounts, negative for refunds and
// reversals.
type Contribution struct {
	// Base is true for a base conversion (it counts in Conversions), false
	// for a named event (it counts in EventCount).
	Base bool `json:"base"`
	// Count is +1 for a conversion that arrives (or is approved), −1 for one
	// that is reversed (or rejected after approval), and 0 for a partial
	// refund, which leaves the counts unchanged (DESIGN.md §13.13).
	Count      int64           `json:"count"`
	SaleAmount decimal.Decimal `json:"sale_amount"`
	Revenue    decimal.Decimal `json:"revenue"`
	Payout     decimal.Decimal `json:"payout"`
}

// Arrival is the contribution of a conversion that is counted: event is ""
// for the base conversion, a is its layer 1–3 amounts.
func Arrival(event string, a Amounts) Contribution {
	return Contribution{Base: event == "", Count: 1, SaleAmount: a.SaleAmount, Revenue: a.Revenue, Payout: a.Payout}
}

// Reversal is the contribution of a counted conversion that is reversed:
// Arrival with the count and the amounts negated.
func Reversal(event string, a Amounts) Contribution {
	return Contribution{Base: event == "", Count: -1, SaleAmount: a.SaleAmount.Neg(), Revenue: a.Revenue.Neg(), Payout: a.Payout.Neg()}
}

// Refund is the contribution of a partial refund that changed a counted
// conversion's layer 1–3 amounts from before to after: the differences, with
// the counts unchanged.
func Refund(event string, before, after Amounts) Contribution {
	return Contribution{
		Base:       event == "",
		SaleAmount: after.SaleAmount.Sub(before.SaleAmount),
		Revenue:    after.Revenue.Sub(before.Revenue),
		Payout:     after.Payout.Sub(before.Payout),
	}
}

// Add returns m with c added. Amounts are summed as given, so adding a
// refund and then the same amounts back returns the original metrics.
func (m Metrics) Add(c Contribution) Metrics {
	if c.Base {
		m.Conversions += c.Count
	} else {
		m.EventCount += c.Count
	}
	m.SaleAmount = m.SaleAmount.Add(c.SaleAmount)
	m.Revenue = m.Revenue.Add(c.Revenue)
	m.Payout = m.Payout.Add(c.Payout)
	return m
}

// Value returns the value of one metric, zero for an unknown metric.
func (m Metrics) Value(metric Metric) decimal.Decimal {
	v, _ := m.value(metric)
	return v
}

func (m Metrics) value(metric Metric) (decimal.Decimal, bool) {
	switch metric {
	case MetricConversions:
		return decimal.NewFromInt(m.Conversions), true
	case MetricEventCount:
		return decimal.NewFromInt(m.EventCount), true
	case MetricSaleAmount:
		return m.SaleAmount, true
	case MetricRevenue:
		return m.Revenue, true
	case MetricPayout:
		return m.Payout, true
	}
	return decimal.Decimal{}, false
}

// Holds reports whether the bound holds for m: the metric's value is above
// Min (at least 0 without Min) and at most Max (when set). A bound on an
// unknown metric never holds.
func (b Bound) Holds(m Metrics) bool {
	v, ok := m.value(b.Metric)
	if !ok {
		return false
	}
	return b.interval().contains(v)
}

// Holds reports whether every bound of the band holds for m. A band with no
// bound (which Validate rejects) never holds.
func (b Band) Holds(m Metrics) bool {
	if len(b.Bounds) == 0 {
		return false
	}
	for _, bound := range b.Bounds {
		if !bound.Holds(m) {
			return false
		}
	}
	return true
}

// BandAt returns the index of the highest band whose bounds all hold for m,
// or -1 when none does. A whole conversion moves between bands, never split
// (DESIGN.md §13.8): the caller passes the metrics including the conversion
// being priced.
func (r Rule) BandAt(m Metrics) int {
	for i := len(r.Bands) - 1; i >= 0; i-- {
		if r.Bands[i].Holds(m) {
			return i
		}
	}
	return -1
}

// HighWater returns a period's band after a conversion: the highest band
// ever held in the period (DESIGN.md §13.10). previous is the stored
// high-water index (-1 for none yet), now is BandAt of the current metrics.
// Refunds can lower the metrics but never the band.
func HighWater(previous, now int) int {
	return max(previous, now)
}

// BandName describes band i of r for messages: `bands[1] "Gold"`, or
// `bands[1]` when it has no name, or "no band" for -1.
func (r Rule) BandName(i int) string {
	if i < 0 || i >= len(r.Bands) {
		return "no band"
	}
	return bandRef(i, r.Bands[i].Name)
}
