package tiered

import (
	"strings"

	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/pricing"
)

// ExampleInput is what a worked example prices: a conversion of an offer
// paying Amounts at layers 1–3. Money writes an amount ("$10.00"); nil
// writes the amount with the currency's decimals and its code.
type ExampleInput struct {
	Amounts Amounts
	Money   func(decimal.Decimal) string
}

// Example is one band of a rule worked through: a partner whose period's
// metrics put it in the band, and what a conversion of ExampleInput then
// pays and earns, computed by Apply (and ApplyRetro for what earlier
// conversions of the period become), so it is the math pricing does.
type Example struct {
	Band     int     `json:"band"`
	BandName string  `json:"band_name,omitempty"`
	Metrics  Metrics `json:"metrics"` // a point inside the band
	Result   Result  `json:"result"`
	// Retro is what an earlier conversion of the period gets when the
	// partner reaches the band, nil when the rule does not re-price
	// retroactively.
	Retro *Result `json:"retro,omitempty"`
	// Sentence says it in words: "A partner at 150 conversions this month
	// on an offer paying $10.00 gets $11.00 (10% increase of 10.00 payout =
	// 11.00)."
	Sentence string `json:"sentence"`
}

// Examples works through each band of the rule whose bounds can be read
// (a band with an unknown metric or no bound is left out): a value inside
// the band for every metric it bounds, and the amounts in.Amounts become.
func (r Rule) Examples(in ExampleInput) []Example {
	var out []Example
	for i := range r.Bands {
		m, point, ok := inside(&r.Bands[i])
		if !ok {
			continue
		}
		res := Apply(r, i, in.Amounts)
		ex := Example{Band: i, BandName: r.Bands[i].Name, Metrics: m, Result: res}
		var s strings.Builder
		s.WriteString("A partner at " + point + " " + periodWords(r.Period) + " on an offer paying " + in.money(in.Amounts.Payout) +
			" gets " + in.money(res.Explanation.Payout.Target))
		if res.Explanation.Payout.Adjusted {
			s.WriteString(" (" + res.Explanation.Payout.Formula + ")")
		} else {
			s.WriteString(" (the band does not change the payout)")
		}
		if res.Explanation.Revenue.Adjusted {
			s.WriteString("; the revenue of " + in.money(in.Amounts.Revenue) + " becomes " + in.money(res.Explanation.Revenue.Target))
		}
		if mode := r.RetroMode(); mode == RetroEnabled || mode == RetroCustom {
			retro := ApplyRetro(r, i, in.Amounts)
			ex.Retro = &retro
			switch {
			case retro.Explanation.Payout.Keep:
				s.WriteString("; its earlier conversions this period keep their payout")
			default:
				s.WriteString("; its earlier unpaid conversions this period are re-priced to " + in.money(retro.Explanation.Payout.Target))
			}
		}
		s.WriteString(".")
		ex.Sentence = s.String()
		out = append(out, ex)
	}
	return out
}

func (in ExampleInput) money(d decimal.Decimal) string {
	if in.Money != nil {
		return in.Money(d)
	}
	c := &calc{units: pricing.MinorUnits(in.Amounts.Currency)}
	return c.money(d) + " " + strings.ToUpper(in.Amounts.Currency)
}

// inside returns metrics at which every bound of the band holds, and the
// point in words ("150 conversions and 6,000 revenue"): half way between
// min and max, or half as much again as min, or half of max, whole for the
// counts.
func inside(b *Band) (Metrics, string, bool) {
	if len(b.Bounds) == 0 {
		return Metrics{}, "", false
	}
	var m Metrics
	var words []string
	for _, bound := range b.Bounds {
		v, ok := pointIn(bound)
		if !ok {
			return Metrics{}, "", false
		}
		count := bound.Metric == MetricConversions || bound.Metric == MetricEventCount
		if count {
			v = v.Ceil()
			if !bound.Holds(metricsWith(bound.Metric, v)) {
				v = v.Floor()
			}
		} else {
			v = v.Round(2)
		}
		switch bound.Metric {
		case MetricConversions:
			m.Conversions = v.IntPart()
			words = append(words, quantity(v, "conversion"))
		case MetricEventCount:
			m.EventCount = v.IntPart()
			words = append(words, quantity(v, "event"))
		case MetricSaleAmount:
			m.SaleAmount = v
			words = append(words, v.String()+" in sales")
		case MetricRevenue:
			m.Revenue = v
			words = append(words, v.String()+" of revenue")
		case MetricPayout:
			m.Payout = v
			words = append(words, v.String()+" of payout")
		default:
			return Metrics{}, "", false
		}
	}
	if !b.Holds(m) {
		return Metrics{}, "", false
	}
	return m, strings.Join(words, " and "), true
}

var half = decimal.RequireFromString("0.5")

// pointIn is a value the bound admits, away from its edges.
func pointIn(b Bound) (decimal.Decimal, bool) {
	switch {
	case b.Min != nil && b.Max != nil:
		return b.Min.Add(*b.Max).Mul(half), true
	case b.Min != nil && b.Min.IsZero():
		return decimal.NewFromInt(10), true
	case b.Min != nil:
		return b.Min.Mul(decimal.RequireFromString("1.5")), true
	case b.Max != nil:
		return b.Max.Mul(half), true
	}
	return decimal.NewFromInt(10), true
}

func metricsWith(metric Metric, v decimal.Decimal) Metrics {
	var m Metrics
	switch metric {
	case MetricConversions:
		m.Conversions = v.IntPart()
	case MetricEventCount:
		m.EventCount = v.IntPart()
	}
	return m
}

// periodWords says when the metrics were reached: "this month".
func periodWords(p Period) string {
	switch p {
	case PeriodDaily:
		return "today"
	case PeriodWeekly:
		return "this week"
	case PeriodMonthly:
		return "this month"
	case PeriodQuarterly:
		return "this quarter"
	}
	return "in total"
}

// quantity is "1 conversion", "150 conversions".
func quantity(n decimal.Decimal, noun string) string {
	if n.Equal(decimal.NewFromInt(1)) {
		return "1 " + noun
	}
	return n.String() + " " + noun + "s"
}
