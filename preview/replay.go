package preview

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
)

// Rules are the rules a replay prices with: active tiered and Customer
// Value rules.
type Rules struct {
	Tiered []tiered.Rule
	Value  []customervalue.Rule
}

// Priced is what one conversion pays and earns in a replay, and why.
type Priced struct {
	ConversionID int64
	// Payout and Revenue are its totals: layer 1–3, the tiered lines, the
	// Customer Value override and bonuses.
	Payout  decimal.Decimal
	Revenue decimal.Decimal
	// TieredRuleID is the tiered rule that adjusted it (0: none) and Band the
	// band it ended at (-1: none).
	TieredRuleID int64
	Band         int
	// Why lists, in words, what the tiered and Customer Value layers did.
	Why []string

	p13, r13         decimal.Decimal // current layer 1–3 amounts
	tieredPayout     decimal.Decimal
	tieredRevenue    decimal.Decimal
	payoutAdjustment *tiered.Adjustment
	revenueAdj       *tiered.Adjustment
	tieredWhy        string
	bonusPayout      decimal.Decimal
	bonusRevenue     decimal.Decimal
	override         *customervalue.Outcome
	overrideRule     *customervalue.Rule
	valueWhy         []string
	paid             bool
	amounts          tiered.Amounts
}

// cycleKey names a commission cycle of the replay.
type cycleKey struct {
	rule, partner, offer int64
	start                time.Time
}

type cycle struct {
	metrics tiered.Metrics
	band    int
	members []int // indexes of the conversions the rule priced in the cycle
}

type customerKey struct {
	advertiser int64
	user       string
}

// checkEvery is how many conversions a replay handles between looks at its
// context and reports of its progress.
const checkEvery = 256

// Replay prices conversions, in the order given (the order they were
// priced), with rules in the network's zone loc, and settles the
// end-of-cycle Customer Value outcomes due at now; it skips reversed
// conversions. It is pure: it reads nothing but its arguments and writes
// nothing. tick, when not nil, is called after every checkEvery
// conversions with how many are done; ctx is looked at as often, and its
// error ends the replay.
func Replay(ctx context.Context, convs []store.PreviewConversion, rules Rules, loc *time.Location, now time.Time, tick func(done int)) ([]Priced, error) {
	tr := slices.Clone(rules.Tiered)
	slices.SortFunc(tr, func(a, b tiered.Rule) int { return cmp.Compare(a.ID, b.ID) })
	byID := map[int64]*tiered.Rule{}
	for i := range tr {
		byID[tr[i].ID] = &tr[i]
	}
	valueByID := map[int64]*customervalue.Rule{}
	for i := range rules.Value {
		valueByID[rules.Value[i].ID] = &rules.Value[i]
	}

	out := make([]Priced, len(convs))
	index := make(map[int64]int, len(convs))
	cycles := map[cycleKey]*cycle{}
	states := map[customerKey]*customervalue.State{}
	for i := range convs {
		if i%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("replay: %w", err)
			}
			if tick != nil && i > 0 {
				tick(i)
			}
		}
		c := &convs[i]
		p := &out[i]
		p.ConversionID, p.Band, p.paid = c.ID, -1, c.Paid
		index[c.ID] = i
		if c.Reversed {
			continue
		}
		sale := c.SaleAmount.Sub(c.RefundedSale)
		p.p13 = c.PricedPayout.Add(c.RefundPayout).Add(c.ManualPayout)
		p.r13 = c.PricedRevenue.Add(c.RefundRevenue).Add(c.ManualRevenue)
		p.amounts = tiered.Amounts{SaleAmount: sale, Payout: p.p13, Revenue: p.r13, Currency: c.Currency}
		counted := tiered.Amounts{SaleAmount: sale, Payout: c.PricedPayout.Add(c.RefundPayout),
			Revenue: c.PricedRevenue.Add(c.RefundRevenue), Currency: c.Currency}

		// Layer 4: every covering rule counts the conversion; the winner
		// adjusts it at its period's high-water band.
		facts := tiered.Facts{OfferID: c.OfferID, AdvertiserID: c.AdvertiserID, PartnerID: c.PartnerID, Event: c.Event, At: c.OccurredAt}
		raised := map[cycleKey]bool{}
		for j := range tr {
			r := &tr[j]
			if !r.Active || !r.Covers(facts, loc) {
				continue
			}
			start, _ := tiered.PeriodOf(*r, c.OccurredAt, loc)
			key := cycleKey{r.ID, c.PartnerID, c.OfferID, start}
			cy := cycles[key]
			if cy == nil {
				cy = &cycle{band: -1}
				cycles[key] = cy
			}
			cy.metrics = cy.metrics.Add(tiered.Arrival(c.Event, counted))
			if band := tiered.HighWater(cy.band, r.BandAt(cy.metrics)); band > cy.band {
				cy.band, raised[key] = band, true
			}
		}
		if win, ok := tiered.Select(tr, facts, loc); ok {
			start, end := tiered.PeriodOf(win, c.OccurredAt, loc)
			key := cycleKey{win.ID, c.PartnerID, c.OfferID, start}
			cy := cycles[key]
			res := tiered.Apply(win, cy.band, p.amounts)
			e := res.Explanation.WithPeriod(start, end).WithMetrics(cy.metrics)
			p.TieredRuleID, p.Band = win.ID, cy.band
			p.tieredPayout, p.tieredRevenue = res.Payout, res.Revenue
			p.payoutAdjustment, p.revenueAdj = e.Payout.Adjustment, e.Revenue.Adjustment
			p.tieredWhy = tieredWhy(win, e)
			cy.members = append(cy.members, i)
		}

		// Layer 5: the customer's progress on every Customer Value rule.
		if c.UserID != "" && len(rules.Value) > 0 {
			key := customerKey{c.AdvertiserID, c.UserID}
			st := states[key]
			if st == nil {
				st = &customervalue.State{}
				states[key] = st
			}
			outcomes := st.Apply(rules.Value, customervalue.Conversion{
				ID: c.ID, PartnerID: c.PartnerID, OfferID: c.OfferID, AdvertiserID: c.AdvertiserID, Event: c.Event,
				At: c.OccurredAt, Currency: c.Currency, SaleAmount: c.SaleAmount,
				Revenue: c.PricedRevenue, Payout: c.PricedPayout, Data: c.Data,
			}, loc)
			give(out, index, valueByID, outcomes)
			if !c.RefundedSale.IsZero() || !c.RefundRevenue.IsZero() || !c.RefundPayout.IsZero() {
				st.Refund(c.ID, c.RefundedSale, c.RefundRevenue.Neg(), c.RefundPayout.Neg())
			}
		}

		// A band that rose re-prices the period's earlier conversions, as
		// the cycle's workflow does right after.
		for key := range raised {
			reprice(out, byID[key.rule], cycles[key])
		}
	}

	// End-of-cycle outcomes due by now, customer by customer in a fixed
	// order.
	keys := make([]customerKey, 0, len(states))
	for k := range states {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b customerKey) int {
		return cmp.Or(cmp.Compare(a.advertiser, b.advertiser), cmp.Compare(a.user, b.user))
	})
	for _, k := range keys {
		give(out, index, valueByID, states[k].Due(rules.Value, now, loc))
	}

	for i := range out {
		if !convs[i].Reversed {
			total(&out[i], &convs[i])
		} else {
			out[i].Payout, out[i].Revenue = convs[i].Payout, convs[i].Revenue
		}
	}
	if tick != nil {
		tick(len(convs))
	}
	return out, nil
}

// give records Customer Value outcomes on the conversions they go to (one
// outside the replay is dropped: the live path would pay it on a
// conversion the preview does not compare).
func give(out []Priced, index map[int64]int, rules map[int64]*customervalue.Rule, outcomes []customervalue.Outcome) {
	for k := range outcomes {
		o := outcomes[k]
		i, ok := index[o.ConversionID]
		if !ok {
			continue
		}
		p := &out[i]
		switch o.Kind {
		case customervalue.KindOverride:
			p.override, p.overrideRule = &o, rules[o.RuleID]
			p.valueWhy = append(p.valueWhy, fmt.Sprintf("Customer Value override of rule %s: %s", ruleName(o.RuleID, o.RuleName), o.Explanation.Payout.Formula))
		default:
			p.bonusPayout = p.bonusPayout.Add(o.Payout)
			if o.Revenue != nil {
				p.bonusRevenue = p.bonusRevenue.Add(*o.Revenue)
			}
			p.valueWhy = append(p.valueWhy, fmt.Sprintf("Customer Value bonus of rule %s: %s", ruleName(o.RuleID, o.RuleName), o.Explanation.Payout.Formula))
		}
	}
}

// reprice brings the cycle's earlier conversions to its band, as
// RepriceCycle does: the unpaid ones below the band, each to what
// tiered.Reprice gives on its current amounts, keeping what an override
// sets.
func reprice(out []Priced, r *tiered.Rule, cy *cycle) {
	if r == nil || (r.RetroMode() != tiered.RetroEnabled && r.RetroMode() != tiered.RetroCustom) {
		return
	}
	var priced []tiered.Priced
	at := map[int64]int{}
	for _, i := range cy.members {
		p := &out[i]
		if p.Band >= cy.band {
			continue
		}
		band := p.Band
		at[p.ConversionID] = i
		priced = append(priced, tiered.Priced{
			ConversionID: p.ConversionID, Amounts: p.amounts, TieredPayout: p.tieredPayout, TieredRevenue: p.tieredRevenue,
			Band: &band, Paid: p.paid, PayoutOverridden: p.override != nil,
			RevenueOverridden: p.override != nil && p.override.Revenue != nil,
			PayoutAdjustment:  p.payoutAdjustment, RevenueAdjustment: p.revenueAdj,
		})
	}
	for _, d := range tiered.Reprice(*r, cy.band, priced) {
		p := &out[at[d.ConversionID]]
		p.tieredPayout, p.tieredRevenue = p.tieredPayout.Add(d.Payout), p.tieredRevenue.Add(d.Revenue)
		p.payoutAdjustment, p.revenueAdj = d.Explanation.Payout.Adjustment, d.Explanation.Revenue.Adjustment
		p.Band = cy.band
		p.tieredWhy = fmt.Sprintf("Tiered Commission %s, re-priced retroactively to %s: payout %s",
			ruleName(r.ID, r.Name), r.BandName(cy.band), signed(p.tieredPayout))
	}
}

// total adds up a conversion's lines as the ledger would hold them. An
// override's line is its exact target minus layers 1–4, rounded (DESIGN
// §13.21); after refunds or edits the target is the override rule's on the
// net amounts, as the store re-targets it.
func total(p *Priced, c *store.PreviewConversion) {
	payout := p.p13.Add(p.tieredPayout)
	revenue := p.r13.Add(p.tieredRevenue)
	if o := p.override; o != nil {
		exactPayout := o.Explanation.Payout.Exact
		var exactRevenue *decimal.Decimal
		if o.Explanation.Revenue != nil {
			x := o.Explanation.Revenue.Exact
			exactRevenue = &x
		}
		changed := !c.RefundedSale.IsZero() || !c.ManualPayout.IsZero() || !c.ManualRevenue.IsZero() || !c.RefundRevenue.IsZero()
		if changed && p.overrideRule != nil {
			pc, rc := customervalue.OverrideTargets(*p.overrideRule, c.Currency, p.amounts.SaleAmount, p.r13)
			exactPayout = pc.Exact
			if rc != nil {
				x := rc.Exact
				exactRevenue = &x
			}
		}
		payout = payout.Add(pricing.Round(exactPayout.Sub(payout), c.Currency))
		if exactRevenue != nil {
			revenue = revenue.Add(pricing.Round(exactRevenue.Sub(revenue), c.Currency))
		}
	}
	p.Payout = payout.Add(p.bonusPayout)
	p.Revenue = revenue.Add(p.bonusRevenue)
	if p.tieredWhy != "" {
		p.Why = append(p.Why, p.tieredWhy)
	}
	p.Why = append(p.Why, p.valueWhy...)
}

func tieredWhy(r tiered.Rule, e tiered.Explanation) string {
	switch {
	case e.Band < 0:
		return fmt.Sprintf("Tiered Commission %s: no band holds yet", ruleName(r.ID, r.Name))
	case e.Payout.Adjusted:
		return fmt.Sprintf("Tiered Commission %s at %s: %s", ruleName(r.ID, r.Name), r.BandName(e.Band), e.Payout.Formula)
	}
	return fmt.Sprintf("Tiered Commission %s at %s: the band does not change the payout", ruleName(r.ID, r.Name), r.BandName(e.Band))
}

func ruleName(id int64, name string) string { return fmt.Sprintf("%d %q", id, name) }

func signed(d decimal.Decimal) string {
	if d.IsPositive() {
		return "+" + d.String()
	}
	return d.String()
}
