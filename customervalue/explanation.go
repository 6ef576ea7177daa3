package customervalue

import (
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/pricing"
)

// Explanation tells an affiliate manager why a Customer Value rule gave an
// outcome: the rule, the group and cycle the goal was judged in, every
// condition with the aggregate it was judged on at that moment, the
// conversion that completed the goal, and how every cent was computed. It
// marshals to JSON with snake_case keys and every amount as a decimal
// string, and a JSON round trip gives a reflect.DeepEqual value.
type Explanation struct {
	RuleID     int64     `json:"rule_id"`
	RuleName   string    `json:"rule_name"`
	Kind       Kind      `json:"kind"`
	Frequency  Frequency `json:"frequency"`
	Trigger    Trigger   `json:"trigger"`
	Currency   string    `json:"currency"`
	MinorUnits int32     `json:"minor_units"`
	// Group is the scope group ("all", "offer:<id>", "partner:<id>") and
	// Cycle the cycle the goal was judged in.
	Group string   `json:"group"`
	Cycle CycleRef `json:"cycle"`
	// Anchor is the start of the rule's window for this customer (the first
	// in-scope conversion, or the rule's start); WindowStart and WindowEnd
	// the window, cut by the rule's dates (WindowEnd exclusive, nil when it
	// never ends).
	Anchor      time.Time  `json:"anchor"`
	WindowStart time.Time  `json:"window_start"`
	WindowEnd   *time.Time `json:"window_end,omitempty"`
	// CompletedBy is the conversion after which all conditions held (for an
	// end-of-cycle outcome, found by replaying the cycle's surviving
	// conversions in processing order).
	CompletedBy int64             `json:"completed_by"`
	Conditions  []ConditionResult `json:"conditions,omitempty"`
	// Payout is the bonus amount or the override's payout; Revenue the
	// revenue adjustment, nil without one.
	Payout  Calculation  `json:"payout"`
	Revenue *Calculation `json:"revenue,omitempty"`
	// Superseded lists the other overrides that matched the conversion and
	// lost to this one (§13.7).
	Superseded []Superseded `json:"superseded,omitempty"`
	// Summary is one sentence for the reports.
	Summary string `json:"summary"`
}

// Superseded is an override that matched the conversion but lost.
type Superseded struct {
	RuleID   int64  `json:"rule_id"`
	RuleName string `json:"rule_name"`
	Reason   string `json:"reason"`
}

// Calculation is one amount an outcome computed: its inputs, the exact
// result, the rounded amount and the formula that joins them.
type Calculation struct {
	Type        RateType         `json:"type"`
	FixedAmount *decimal.Decimal `json:"fixed_amount,omitempty"`
	Percent     *decimal.Decimal `json:"percent,omitempty"`
	// Base is the amount the percent is of; BaseName says which amount and
	// BaseScope whose: "conversion" (this conversion's own), "cycle_to_date"
	// (the group's cycle up to and including the completing conversion) or
	// "cycle" (the group's whole cycle net of refunds). BaseConversions is
	// how many conversions the base adds up.
	Base            *decimal.Decimal `json:"base,omitempty"`
	BaseName        Base             `json:"base_name,omitempty"`
	BaseScope       string           `json:"base_scope,omitempty"`
	BaseConversions int              `json:"base_conversions,omitempty"`
	// Exact is the amount before rounding, Amount after rounding to the
	// currency's minor unit (ties away from zero).
	Exact   decimal.Decimal `json:"exact"`
	Amount  decimal.Decimal `json:"amount"`
	Formula string          `json:"formula"` // e.g. "10% × 55.55 sale amount = 5.555, rounded to 5.56"
	Note    string          `json:"note,omitempty"`
}

// The base scopes of a percent.
const (
	ScopeConversion  = "conversion"
	ScopeCycleToDate = "cycle_to_date"
	ScopeCycle       = "cycle"
)

// bases are the amounts a percent rate may be taken of.
type bases struct {
	scope    string
	sale     decimal.Decimal
	revenue  decimal.Decimal
	n        int // conversions added up
	excluded int // conversions left out for another currency
}

// calculate computes a rate in a currency.
func calculate(rate Rate, currency string, b bases) Calculation {
	units := pricing.MinorUnits(currency)
	c := Calculation{Type: rate.Type}
	var exact decimal.Decimal
	var f strings.Builder
	switch rate.Type {
	case RateFixed:
		c.FixedAmount = canonicalPtr(rate.Amount)
		exact = rate.Amount
		f.WriteString(money(rate.Amount, units))
		f.WriteString(" fixed")
	case RatePercent, RateRevShare:
		name := rate.Base
		if rate.Type == RateRevShare {
			name = BaseSaleAmount
		}
		base := b.sale
		if name == BaseRevenue {
			base = b.revenue
		}
		c.Percent = canonicalPtr(rate.Percent)
		c.Base = canonicalPtr(base)
		c.BaseName = name
		c.BaseScope = b.scope
		c.BaseConversions = b.n
		exact = rate.Percent.Mul(base).Shift(-2)
		f.WriteString(rate.Percent.String())
		f.WriteString("% × ")
		f.WriteString(money(base, units))
		f.WriteString(" ")
		f.WriteString(strings.ReplaceAll(string(name), "_", " "))
		switch b.scope {
		case ScopeCycleToDate:
			f.WriteString(" of the cycle so far (" + plural(b.n, "conversion") + ")")
		case ScopeCycle:
			f.WriteString(" of the cycle, net of refunds (" + plural(b.n, "conversion") + ")")
		}
		var notes []string
		if base.IsZero() {
			if b.scope == ScopeConversion {
				notes = append(notes, "the conversion has no "+strings.ReplaceAll(string(name), "_", " ")+", so the percent pays 0")
			} else {
				notes = append(notes, "the cycle has no "+strings.ReplaceAll(string(name), "_", " ")+", so the percent pays 0")
			}
		}
		if b.excluded > 0 {
			notes = append(notes, plural(b.excluded, "conversion")+" in another currency left out of the base: currencies are never mixed")
		}
		c.Note = strings.Join(notes, "; ")
	}
	amount := pricing.Round(exact, currency)
	c.Exact = canonical(exact)
	c.Amount = canonical(amount)
	f.WriteString(" = ")
	if !exact.Equal(amount) {
		f.WriteString(exact.String())
		f.WriteString(", rounded to ")
	}
	f.WriteString(amount.StringFixed(units))
	c.Formula = f.String()
	return c
}

// money formats an amount with at least the currency's decimals, and more
// only when it has more.
func money(d decimal.Decimal, units int32) string {
	n := d.Normalize()
	if -n.Exponent() <= units {
		return n.StringFixed(units)
	}
	return n.String()
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// canonical returns d in the form its JSON string parses back to, so
// explanations survive a JSON round trip unchanged (reflect.DeepEqual).
func canonical(d decimal.Decimal) decimal.Decimal {
	return decimal.RequireFromString(d.String())
}

func canonicalPtr(d decimal.Decimal) *decimal.Decimal {
	c := canonical(d)
	return &c
}

func timePtr(t time.Time) *time.Time {
	u := t.UTC()
	return &u
}
