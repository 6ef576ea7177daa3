package customervalue

import (
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// Names is what Summary needs to word a rule as a manager reads it: the
// names of the data points, partners, offers and advertisers it mentions,
// and how an amount is written. Missing names fall back to identifiers and
// ids; a nil Money writes "200.00 USD" in Currency.
type Names struct {
	DataPoints  map[string]string // by identifier
	Partners    map[int64]string
	Offers      map[int64]string
	Advertisers map[int64]string
	Currency    string
	Money       func(decimal.Decimal) string
}

// Summary says in one plain-English sentence what the rule pays, to whom,
// for what and over which time: "Pays a one-time $200.00 bonus to the
// partner whose referred customer, over their lifetime, has Geo "EU1", a
// total Deposit of more than 200 and a single Trade of at least 100, in any
// order." It is written from the rule as it stands, also one that does not
// validate yet (an editor shows it while the rule is built); what is not
// chosen yet reads as "…".
func (r Rule) Summary(n Names) string {
	var s strings.Builder
	o := r.Outcome
	goal := ""
	if len(r.Conditions) > 0 {
		parts := make([]string, len(r.Conditions))
		for i, c := range r.Conditions {
			parts[i] = n.condition(c)
		}
		goal = "has " + conjoin(parts)
		if len(r.Conditions) > 1 {
			goal += ", in any order"
		}
	}
	when := n.timeframe(r)
	if o.Kind == KindOverride {
		// "Pays Blue Media 10% RevShare of the sale amount instead of the
		// usual payout on every conversion of the customers they refer, …"
		s.WriteString("Pays " + n.partners(r, "every partner") + " " + n.rate(o.Payout, true) + " instead of the usual payout")
		if o.RevenueAdjustment != nil {
			s.WriteString(" (and sets the revenue to " + n.rate(*o.RevenueAdjustment, true) + ")")
		}
		switch o.Frequency {
		case OncePerCustomer:
			s.WriteString(" on the first such conversion of each customer they refer")
		case OncePerCycle:
			s.WriteString(" on the first such conversion of each " + cycleNoun(r.Timeframe.Cycle) + " of each customer they refer")
		default:
			s.WriteString(" on every conversion of the customers they refer")
		}
		if when != "" {
			s.WriteString(", " + when)
		}
		if goal != "" {
			s.WriteString(", once the customer " + goal)
		}
	} else {
		s.WriteString(n.bonus(r))
		if goal == "" {
			s.WriteString(" to " + n.partners(r, "the partner") + " for every referred customer's activity")
			if when != "" {
				s.WriteString(" " + when)
			}
		} else {
			who := "the partner"
			if len(r.PartnerIDs) > 0 {
				who = n.partners(r, "")
				if len(r.PartnerIDs) > 1 {
					who = "whichever of " + who
				}
			}
			s.WriteString(" to " + who + " whose referred customer")
			if when != "" {
				s.WriteString(", " + when + ",")
			}
			s.WriteString(" " + goal)
		}
	}
	if scope := n.scope(r); scope != "" {
		s.WriteString("; " + scope)
	}
	switch r.Grouping {
	case GroupOffer:
		s.WriteString("; each offer counted separately")
	case GroupPartner:
		s.WriteString("; each partner counted separately")
	}
	if o.Trigger == TriggerEndOfCycle {
		s.WriteString("; paid when the " + cycleNoun(r.Timeframe.Cycle) + " ends")
	}
	s.WriteString(".")
	return s.String()
}

// bonus is the start of a bonus rule's sentence: what is paid, how often.
func (n Names) bonus(r Rule) string {
	o := r.Outcome
	if o.Kind != KindBonus {
		return "Pays …"
	}
	amount := n.rate(o.Payout, o.Frequency == EveryConversion)
	var pay string
	switch o.Frequency {
	case OncePerCustomer:
		pay = "Pays a one-time " + amount + " bonus"
	case OncePerCycle:
		pay = "Pays a " + amount + " bonus once per " + cycleNoun(r.Timeframe.Cycle)
	case EveryConversion:
		pay = "Pays a " + amount + " bonus on every qualifying conversion"
	default:
		pay = "Pays a " + amount + " bonus"
	}
	if o.RevenueAdjustment != nil {
		pay += " (and " + n.rate(*o.RevenueAdjustment, o.Frequency == EveryConversion) + " of revenue)"
	}
	return pay
}

// partners names the rule's partners, or all when it lists none.
func (n Names) partners(r Rule, all string) string {
	if len(r.PartnerIDs) == 0 {
		return all
	}
	return n.list(r.PartnerIDs, n.Partners, "partner")
}

// timeframe is the goal cycle and window in words; "" when unknown.
func (n Names) timeframe(r Rule) string {
	tf := r.Timeframe
	var within string
	if tf.DurationDays > 0 {
		days := strconv.Itoa(tf.DurationDays) + " day"
		if tf.DurationDays != 1 {
			days += "s"
		}
		switch tf.Anchor {
		case AnchorRuleStart:
			within = "within " + days + " of the rule's start"
		default:
			within = "within " + days + " of their first conversion"
		}
	}
	switch tf.Cycle {
	case CycleContinuous:
		if within != "" {
			return within
		}
		return "over their lifetime"
	case CycleDaily, CycleWeekly, CycleMonthly, CycleQuarterly:
		in := "in a single " + cycleNoun(tf.Cycle)
		if within != "" {
			in += " " + within
		}
		return in
	}
	return within
}

// scope is what activity the rule looks at: the offers, advertisers and
// events; "" for all of it.
func (n Names) scope(r Rule) string {
	var parts []string
	if len(r.OfferIDs) > 0 {
		parts = append(parts, "on "+n.list(r.OfferIDs, n.Offers, "offer"))
	}
	if len(r.AdvertiserIDs) > 0 {
		parts = append(parts, "with "+n.list(r.AdvertiserIDs, n.Advertisers, "advertiser"))
	}
	switch r.AppliesOn {
	case AppliesOnBase:
		parts = append(parts, "counting base conversions only")
	case AppliesOnEvent:
		ev := r.Event
		if ev == "" {
			ev = "…"
		}
		parts = append(parts, "counting "+strconv.Quote(ev)+" events only")
	}
	return strings.Join(parts, ", ")
}

// condition words one goal condition, as what the customer "has".
func (n Names) condition(c Condition) string {
	name := n.sourceName(c.Source)
	text := c.valueType() == TypeText
	target := n.target(c, text)
	switch {
	case c.Source == MetricConversionCount || c.Source == MetricEventCount:
		what := "base conversions"
		if c.Source == MetricEventCount {
			what = "events"
		}
		return countTarget(c) + " " + what
	case c.Aggregation == AggCount:
		return name + " on " + countTarget(c) + " conversions"
	case text && c.Aggregation == AggLatest:
		return "a latest " + name + " " + target
	case text:
		return name + " " + target
	}
	switch c.Aggregation {
	case AggSum:
		return "a total " + name + " " + target
	case AggMax:
		return "a highest " + name + " " + target
	case AggLatest:
		return "a latest " + name + " " + target
	}
	return "a single " + name + " " + target
}

// target words a condition's operator and value.
func (n Names) target(c Condition, text bool) string {
	v := c.Value
	if v == "" {
		v = "…"
	}
	if text {
		switch c.Operator {
		case OpEq:
			return strconv.Quote(v)
		case OpNe:
			return "other than " + strconv.Quote(v)
		case OpIn:
			quoted := make([]string, len(c.Values))
			for i, x := range c.Values {
				quoted[i] = strconv.Quote(x)
			}
			if len(quoted) == 0 {
				return "one of …"
			}
			return "one of " + strings.Join(quoted, ", ")
		}
		return "…"
	}
	switch c.Operator {
	case OpGt:
		return "of more than " + v
	case OpGte:
		return "of at least " + v
	case OpLt:
		return "of less than " + v
	case OpLte:
		return "of at most " + v
	case OpEq:
		return "of exactly " + v
	case OpBetween:
		return "between " + decOr(c.Min) + " and " + decOr(c.Max)
	}
	return "…"
}

// countTarget words the number a count must reach: "more than 3".
func countTarget(c Condition) string {
	v := c.Value
	if v == "" {
		v = "…"
	}
	switch c.Operator {
	case OpGt:
		return "more than " + v
	case OpGte:
		return "at least " + v
	case OpLt:
		return "fewer than " + v
	case OpLte:
		return "at most " + v
	case OpEq:
		return "exactly " + v
	case OpBetween:
		return "between " + decOr(c.Min) + " and " + decOr(c.Max)
	}
	return "…"
}

// sourceName is a condition's data point or metric as the manager named it.
func (n Names) sourceName(source string) string {
	switch source {
	case "":
		return "…"
	case MetricSaleAmount:
		return "sale amount"
	case MetricRevenue:
		return "revenue"
	case MetricPayout:
		return "payout"
	}
	if name := strings.TrimSpace(n.DataPoints[source]); name != "" {
		return name
	}
	return source
}

// rate words an outcome's amount: "$200.00", "10% of the sale amount",
// "10% RevShare of the sale amount". own says a percent is of the
// conversion's own amount rather than of the cycle's.
func (n Names) rate(r Rate, own bool) string {
	switch r.Type {
	case RateFixed:
		return n.money(r.Amount)
	case RateRevShare:
		return r.Percent.String() + "% RevShare of the sale amount"
	case RatePercent:
		base := "…"
		switch r.Base {
		case BaseRevenue:
			base = "revenue"
		case BaseSaleAmount:
			base = "sale amount"
		}
		if own {
			return r.Percent.String() + "% of the conversion's " + base
		}
		return r.Percent.String() + "% of the " + base + " so far"
	}
	return "…"
}

func (n Names) money(d decimal.Decimal) string {
	if n.Money != nil {
		return n.Money(d)
	}
	return money(d, 2) + " " + n.Currency
}

// list names ids: "Blue Media", "Blue Media and Red Clicks", "partner 7".
func (n Names) list(ids []int64, names map[int64]string, noun string) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		if name := strings.TrimSpace(names[id]); name != "" {
			parts[i] = name
		} else {
			parts[i] = noun + " " + itoa(id)
		}
	}
	return conjoin(parts)
}

// cycleNoun is the period of a cycle: "day", "week", "month", "quarter",
// and "cycle" for a continuous one.
func cycleNoun(c Cycle) string {
	switch c {
	case CycleDaily:
		return "day"
	case CycleWeekly:
		return "week"
	case CycleMonthly:
		return "month"
	case CycleQuarterly:
		return "quarter"
	}
	return "cycle"
}

// conjoin joins "a", "a and b", "a, b and c".
func conjoin(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

func decOr(d *decimal.Decimal) string {
	if d == nil {
		return "…"
	}
	return d.String()
}
