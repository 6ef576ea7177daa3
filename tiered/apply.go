package tiered

import (
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/pricing"
)

// Amounts are a conversion's current layer 1–3 amounts (manual edits and
// partial refunds included), which every tiered adjustment is computed on
// (DESIGN.md §13.6). Payout and Revenue are rounded to the currency's minor
// unit, as the ledger shows them; the sale amount is as the postback sent it.
type Amounts struct {
	SaleAmount decimal.Decimal `json:"sale_amount"`
	Payout     decimal.Decimal `json:"payout"`
	Revenue    decimal.Decimal `json:"revenue"`
	Currency   string          `json:"currency"` // ISO 4217; its minor unit comes from pricing.MinorUnits
}

// Result is the tiered adjustment of one conversion: the amounts of its
// tiered payout and revenue lines.
type Result struct {
	// Payout and Revenue are the tiered lines: the target amount minus the
	// layer 1–3 amount, rounded to the currency's minor unit. They may be
	// negative (a decrease); the target itself is never below zero.
	Payout      decimal.Decimal `json:"payout"`
	Revenue     decimal.Decimal `json:"revenue"`
	Explanation Explanation     `json:"explanation"`
}

// Explanation tells an affiliate manager how a conversion's tiered lines
// came about. Apply and ApplyRetro fill in the rule, the band and the two
// lines; the caller adds what it knows with WithPeriod, WithMetrics and
// WithCandidates. It marshals to JSON with snake_case keys and amounts as
// decimal strings, and a JSON round trip gives a reflect.DeepEqual value.
type Explanation struct {
	RuleID   int64  `json:"rule_id"`
	RuleName string `json:"rule_name"`
	// Candidates lists the rules considered and why this one won.
	Candidates []Candidate `json:"candidates,omitempty"`
	// Retroactive is true for ApplyRetro and Reprice; RetroMode is then the
	// rule's mode.
	Retroactive bool      `json:"retroactive"`
	RetroMode   RetroMode `json:"retro_mode,omitempty"`
	// PeriodStart and PeriodEnd are the period window [start, end) in UTC,
	// and Metrics the rule's metrics in it at that moment (the conversion
	// included), when the caller sets them.
	PeriodStart *time.Time `json:"period_start,omitempty"`
	PeriodEnd   *time.Time `json:"period_end,omitempty"`
	Metrics     *Metrics   `json:"metrics,omitempty"`
	// Band is the index of the band applied, -1 for none; BandName and
	// Bounds are its name and thresholds.
	Band     int     `json:"band"`
	BandName string  `json:"band_name,omitempty"`
	Bounds   []Bound `json:"bounds,omitempty"`
	// Reason says why there is no adjustment, or adds a note.
	Reason     string          `json:"reason,omitempty"`
	Currency   string          `json:"currency"`
	MinorUnits int32           `json:"minor_units"`
	SaleAmount decimal.Decimal `json:"sale_amount"`
	Payout     Line            `json:"payout"`
	Revenue    Line            `json:"revenue"`
}

// Line explains one tiered line (payout or revenue).
type Line struct {
	// Adjusted is true when an adjustment was applied; Adjustment is it.
	Adjusted   bool        `json:"adjusted"`
	Adjustment *Adjustment `json:"adjustment,omitempty"`
	// Keep is true when re-pricing leaves the conversion's current tiered
	// amount as it is: the retroactive mode is disabled, there is no band,
	// or in custom mode the band has no retro adjustment for this amount.
	// A kept line's Adjustment is the one the amount still carries (from its
	// earlier pricing), so refunds and edits recompute it (Recompute).
	Keep   bool   `json:"keep,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Base is the conversion's layer 1–3 amount; Exact the target before
	// rounding and the floor at zero; Amount the line, Exact − Base rounded
	// to the minor unit (ties away from zero), or −Base when Exact is below
	// zero; Target is Base + Amount, never negative.
	Base   decimal.Decimal `json:"base"`
	Exact  decimal.Decimal `json:"exact"`
	Target decimal.Decimal `json:"target"`
	Amount decimal.Decimal `json:"amount"`
	// Formula computes the target ("10% increase of 10.00 payout = 11.00"),
	// LineFormula the line ("11.00 target − 10.00 layer 1–3 payout = 1.00").
	Formula     string `json:"formula,omitempty"`
	LineFormula string `json:"line_formula,omitempty"`
	// Previous is the tiered amount the conversion already had, and Delta
	// the line re-pricing writes (Amount − Previous); Reprice only.
	Previous *decimal.Decimal `json:"previous,omitempty"`
	Delta    *decimal.Decimal `json:"delta,omitempty"`
}

// WithPeriod returns e with the period window [start, end), in UTC.
func (e Explanation) WithPeriod(start, end time.Time) Explanation {
	s, en := start.UTC(), end.UTC()
	e.PeriodStart, e.PeriodEnd = &s, &en
	return e
}

// WithMetrics returns e with the rule's metrics at the moment of pricing.
func (e Explanation) WithMetrics(m Metrics) Explanation {
	m.SaleAmount, m.Revenue, m.Payout = canonical(m.SaleAmount), canonical(m.Revenue), canonical(m.Payout)
	e.Metrics = &m
	return e
}

// WithCandidates returns e with the rules considered (from Candidates).
func (e Explanation) WithCandidates(c []Candidate) Explanation {
	e.Candidates = c
	return e
}

// Apply computes the tiered lines of a conversion whose period is at band
// (the high-water band, DESIGN.md §13.10) of rule r: the band's payout and
// revenue adjustments on the conversion's layer 1–3 amounts. Each line is
// the exact target − layer 1–3 amount, rounded to the currency's minor unit,
// ties away from zero; a target below zero floors at zero. A band without an
// adjustment for an amount, or band -1 (no band holds), gives a zero line,
// explained.
func Apply(r Rule, band int, a Amounts) Result {
	c := newCalc(r, band, a)
	if band < 0 || band >= len(r.Bands) {
		c.e.Reason = "no band of the rule holds for the period's metrics"
		return c.result(c.none("payout", c.payout, "no band"), c.none("revenue", c.revenue, "no band"))
	}
	b := &r.Bands[band]
	return c.result(
		c.line("payout", c.payout, b.Payout, b.Name),
		c.line("revenue", c.revenue, b.Revenue, b.Name),
	)
}

// ApplyRetro computes what an earlier conversion of the period gets when
// the partner reaches band: in RetroEnabled mode the band's adjustments, as
// Apply; in RetroCustom mode the band's RetroPayout and RetroRevenue (nil:
// that amount keeps its current tiered line, Line.Keep); in RetroDisabled
// mode (or for band -1) nothing changes: zero lines with Line.Keep set. The
// amounts are the conversion's current layer 1–3 amounts.
func ApplyRetro(r Rule, band int, a Amounts) Result {
	mode := r.RetroMode()
	c := newCalc(r, band, a)
	c.e.Retroactive = true
	c.e.RetroMode = mode
	switch {
	case mode != RetroEnabled && mode != RetroCustom:
		c.e.Reason = "retroactive mode is " + string(mode) + ": earlier conversions keep their lines"
		return c.result(c.keep(c.payout, "retroactive mode "+string(mode)), c.keep(c.revenue, "retroactive mode "+string(mode)))
	case band < 0 || band >= len(r.Bands):
		c.e.Reason = "no band holds: nothing to re-price"
		return c.result(c.keep(c.payout, "no band"), c.keep(c.revenue, "no band"))
	}
	b := &r.Bands[band]
	ref := r.BandName(band)
	if mode == RetroEnabled {
		c.e.Reason = "retroactive mode enabled: re-priced to " + ref
		return c.result(
			c.line("payout", c.payout, b.Payout, b.Name),
			c.line("revenue", c.revenue, b.Revenue, b.Name),
		)
	}
	c.e.Reason = "retroactive mode custom: the retroactive adjustments of " + ref
	payout := c.keep(c.payout, ref+" has no retroactive payout adjustment: the current tiered payout stays")
	if b.RetroPayout != nil {
		payout = c.line("payout", c.payout, b.RetroPayout, b.Name)
	}
	revenue := c.keep(c.revenue, ref+" has no retroactive revenue adjustment: the current tiered revenue stays")
	if b.RetroRevenue != nil {
		revenue = c.line("revenue", c.revenue, b.RetroRevenue, b.Name)
	}
	return c.result(payout, revenue)
}

// Recompute returns the tiered lines of a conversion whose layer 1–3 amounts
// changed (a partial refund, a manual edit) under the adjustments its
// explanation e says each amount carries (DESIGN §13.5, §13.11, §13.13): the
// band's own adjustment, or the retroactive one a custom re-pricing gave it,
// never one it does not carry. A percent follows the new amounts, a flat
// adjustment stays, a set rate is computed anew. An amount that carries no
// adjustment gets a zero line; one that a re-pricing kept without recording
// its adjustment keeps its current line (Line.Keep). The explanation is e
// with the new lines.
func Recompute(e Explanation, a Amounts) Result {
	c := &calc{
		currency: strings.ToUpper(a.Currency),
		units:    pricing.MinorUnits(a.Currency),
		sale:     a.SaleAmount,
		payout:   pricing.Round(a.Payout, a.Currency),
		revenue:  pricing.Round(a.Revenue, a.Currency),
	}
	c.e = e
	c.e.Currency, c.e.MinorUnits, c.e.SaleAmount = c.currency, c.units, canonical(a.SaleAmount)
	again := func(name string, base decimal.Decimal, l Line) Line {
		switch {
		case l.Adjustment != nil:
			return c.line(name, base, l.Adjustment, e.BandName)
		case l.Keep:
			return c.keep(base, l.Reason)
		}
		return c.none(name, base, "no adjustment")
	}
	return c.result(again("payout", c.payout, e.Payout), again("revenue", c.revenue, e.Revenue))
}

// calc computes and explains the lines of one conversion.
type calc struct {
	e        Explanation
	currency string
	units    int32
	sale     decimal.Decimal
	payout   decimal.Decimal // rounded layer 1–3 payout
	revenue  decimal.Decimal // rounded layer 1–3 revenue
}

func newCalc(r Rule, band int, a Amounts) *calc {
	c := &calc{
		currency: strings.ToUpper(a.Currency),
		units:    pricing.MinorUnits(a.Currency),
		sale:     a.SaleAmount,
		payout:   pricing.Round(a.Payout, a.Currency),
		revenue:  pricing.Round(a.Revenue, a.Currency),
	}
	c.e = Explanation{
		RuleID:     r.ID,
		RuleName:   r.Name,
		Band:       -1,
		Currency:   c.currency,
		MinorUnits: c.units,
		SaleAmount: canonical(a.SaleAmount),
	}
	if band >= 0 && band < len(r.Bands) {
		b := r.Bands[band]
		c.e.Band = band
		c.e.BandName = b.Name
		c.e.Bounds = canonicalBounds(b.Bounds)
	}
	return c
}

func (c *calc) result(payout, revenue Line) Result {
	c.e.Payout, c.e.Revenue = payout, revenue
	return Result{Payout: payout.Amount, Revenue: revenue.Amount, Explanation: c.e}
}

// none is a zero line: the amount stays the layer 1–3 amount.
func (c *calc) none(name string, base decimal.Decimal, why string) Line {
	base = canonical(base)
	return Line{
		Reason: why + ": the " + name + " stays " + c.money(base),
		Base:   base,
		Exact:  base,
		Target: base,
		Amount: zero,
	}
}

// keep is a zero line that re-pricing must not write: the conversion keeps
// its current tiered amount.
func (c *calc) keep(base decimal.Decimal, why string) Line {
	base = canonical(base)
	return Line{Keep: true, Reason: why, Base: base, Exact: base, Target: base, Amount: zero}
}

// line applies adj (nil: no change) to base, the layer 1–3 amount called
// name ("payout" or "revenue").
func (c *calc) line(name string, base decimal.Decimal, adj *Adjustment, bandName string) Line {
	if adj == nil {
		why := "the band does not change the " + name
		if bandName != "" {
			why = "band " + strconv.Quote(bandName) + " does not change the " + name
		}
		return c.none(name, base, why)
	}
	exact, formula, ok := c.target(name, base, *adj)
	if !ok {
		return c.none(name, base, "unknown adjustment "+adj.Action+" "+adj.By+adj.Rate)
	}
	// The line is what is rounded, ties away from zero (DESIGN §3, §13.21):
	// a decrease of 2.415 is a line of −2.42, not a target of 21.735 rounded
	// up to 21.74. A target below zero floors at zero.
	var f strings.Builder
	f.WriteString(formula)
	f.WriteString(" = ")
	var amount, target decimal.Decimal
	switch {
	case exact.IsNegative():
		amount, target = base.Neg(), zero
		f.WriteString(c.money(exact))
		f.WriteString(", floored at ")
		f.WriteString(target.StringFixed(c.units))
	default:
		exactLine := exact.Sub(base)
		amount = exactLine.Round(c.units)
		target = base.Add(amount)
		switch {
		case exact.Equal(target):
			f.WriteString(target.StringFixed(c.units))
		case exact.Round(c.units).Equal(target):
			f.WriteString(exact.String())
			f.WriteString(", rounded to ")
			f.WriteString(target.StringFixed(c.units))
		default:
			f.WriteString(exact.String())
			f.WriteString("; the line " + exactLine.String() + " rounds away from zero to " + amount.StringFixed(c.units) +
				", so the target is " + target.StringFixed(c.units))
		}
	}
	a := *adj
	a.Value = canonical(a.Value)
	return Line{
		Adjusted:    true,
		Adjustment:  &a,
		Base:        canonical(base),
		Exact:       canonical(exact),
		Target:      canonical(target),
		Amount:      canonical(amount),
		Formula:     f.String(),
		LineFormula: target.StringFixed(c.units) + " target − " + base.StringFixed(c.units) + " layer 1–3 " + name + " = " + amount.StringFixed(c.units),
	}
}

// target computes the unrounded target of adj on base, with the formula up
// to the "=". It returns false for an adjustment it does not know.
func (c *calc) target(name string, base decimal.Decimal, adj Adjustment) (decimal.Decimal, string, bool) {
	v := adj.Value
	switch adj.Action + "/" + adj.By + adj.Rate {
	case ActionIncrease + "/" + ByPercent:
		return base.Add(base.Mul(v).Shift(-2)), v.String() + "% increase of " + c.money(base) + " " + name, true
	case ActionIncrease + "/" + ByFlat:
		return base.Add(v), c.money(v) + " flat increase of " + c.money(base) + " " + name, true
	case ActionDecrease + "/" + ByPercent:
		return base.Sub(base.Mul(v).Shift(-2)), v.String() + "% decrease of " + c.money(base) + " " + name, true
	case ActionDecrease + "/" + ByFlat:
		return base.Sub(v), c.money(v) + " flat decrease of " + c.money(base) + " " + name, true
	case ActionSet + "/" + RateFixed:
		return v, "set to " + c.money(v) + " fixed", true
	case ActionSet + "/" + RateSalePercent:
		return c.sale.Mul(v).Shift(-2), "set to " + v.String() + "% × " + c.money(c.sale) + " sale amount", true
	case ActionSet + "/" + RateRevenuePercent:
		return c.revenue.Mul(v).Shift(-2), "set to " + v.String() + "% × " + c.money(c.revenue) + " layer 1–3 revenue", true
	}
	return decimal.Decimal{}, "", false
}

// money formats an amount with at least the currency's decimals, and more
// only when it has more (a sale amount is used as sent).
func (c *calc) money(d decimal.Decimal) string {
	n := d.Normalize()
	if -n.Exponent() <= c.units {
		return n.StringFixed(c.units)
	}
	return n.String()
}

// zero is 0 in its canonical form (decimal.Zero is not: it has exponent 1).
var zero = decimal.RequireFromString("0")

// canonical returns d in the form its JSON string parses back to, so
// explanations survive a JSON round trip unchanged (reflect.DeepEqual).
func canonical(d decimal.Decimal) decimal.Decimal {
	return decimal.RequireFromString(d.String())
}

func canonicalPtr(d *decimal.Decimal) *decimal.Decimal {
	if d == nil {
		return nil
	}
	c := canonical(*d)
	return &c
}

func canonicalBounds(bounds []Bound) []Bound {
	if len(bounds) == 0 {
		return nil
	}
	out := make([]Bound, len(bounds))
	for i, b := range bounds {
		out[i] = Bound{Metric: b.Metric, Min: canonicalPtr(b.Min), Max: canonicalPtr(b.Max)}
	}
	return out
}
