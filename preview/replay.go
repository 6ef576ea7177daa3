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

// customer is one customer's Customer Value progress in the replay, and
// the time of the last thing its workflow handled.
type customer struct {
	state customervalue.State
	last  time.Time
}

// checkEvery is how many conversions a replay handles between looks at its
// context and reports of its progress.
const checkEvery = 256

// lifecycle is a refund or a reversal of a replayed conversion, at the
// moment it was made.
type lifecycle struct {
	at     time.Time
	conv   int // index of the conversion
	refund int // index in its Refunds; -1 for its reversal
}

// replay is the state of one Replay: the commission cycles, the customers'
// progress and what each conversion pays so far.
type replay struct {
	convs     []store.PreviewConversion
	out       []Priced
	index     map[int64]int
	loc       *time.Location
	tiered    []tiered.Rule
	byID      map[int64]*tiered.Rule
	value     []customervalue.Rule
	valueByID map[int64]*customervalue.Rule
	cycles    map[cycleKey]*cycle
	customers map[customerKey]*customer
	countedIn [][]cycleKey     // the cycles that count each conversion
	counted   []tiered.Amounts // what each conversion counts for in them now
	reversed  []bool           // the replay reached its reversal
}

// Replay prices conversions, in the order given (the order they were
// priced), with rules in the network's zone loc, each refund and reversal
// at the moment it was made, and settles the Customer Value cycles as the
// customers' workflows do: at the wake-ups due before each thing they
// handle, and finally those due at now. It is pure: it reads nothing but
// its arguments and writes nothing. tick, when not nil, is called after
// every checkEvery conversions with how many are done; ctx is looked at as
// often, and its error ends the replay.
func Replay(ctx context.Context, convs []store.PreviewConversion, rules Rules, loc *time.Location, now time.Time, tick func(done int)) ([]Priced, error) {
	r := newReplay(convs, rules, loc)
	events := lifecycles(convs)
	next := 0
	for i := range convs {
		if i%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("replay: %w", err)
			}
			if tick != nil && i > 0 {
				tick(i)
			}
		}
		for ; next < len(events) && events[next].at.Before(convs[i].PricedAt); next++ {
			r.lifecycle(events[next])
		}
		r.price(i)
	}
	for ; next < len(events); next++ {
		r.lifecycle(events[next])
	}

	// The wake-ups due by now, customer by customer in a fixed order.
	keys := make([]customerKey, 0, len(r.customers))
	for k := range r.customers {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b customerKey) int {
		return cmp.Or(cmp.Compare(a.advertiser, b.advertiser), cmp.Compare(a.user, b.user))
	})
	for _, k := range keys {
		r.wake(r.customers[k], now)
	}

	for i := range r.out {
		if !convs[i].Reversed {
			total(&r.out[i], &convs[i])
		} else {
			r.out[i].Payout, r.out[i].Revenue = convs[i].Payout, convs[i].Revenue
		}
	}
	if tick != nil {
		tick(len(convs))
	}
	return r.out, nil
}

func newReplay(convs []store.PreviewConversion, rules Rules, loc *time.Location) *replay {
	r := &replay{
		convs: convs, out: make([]Priced, len(convs)), index: make(map[int64]int, len(convs)), loc: loc,
		tiered: slices.Clone(rules.Tiered), byID: map[int64]*tiered.Rule{},
		value: rules.Value, valueByID: map[int64]*customervalue.Rule{},
		cycles: map[cycleKey]*cycle{}, customers: map[customerKey]*customer{},
		countedIn: make([][]cycleKey, len(convs)), counted: make([]tiered.Amounts, len(convs)),
		reversed: make([]bool, len(convs)),
	}
	slices.SortFunc(r.tiered, func(a, b tiered.Rule) int { return cmp.Compare(a.ID, b.ID) })
	for i := range r.tiered {
		r.byID[r.tiered[i].ID] = &r.tiered[i]
	}
	for i := range r.value {
		r.valueByID[r.value[i].ID] = &r.value[i]
	}
	for i := range convs {
		r.index[convs[i].ID] = i
	}
	return r
}

// lifecycles lists the refunds and reversals of the conversions in the
// order they were made, none before its conversion's pricing. A reversal of
// unknown time (nothing was written when it was made) is taken right after
// the conversion's pricing.
func lifecycles(convs []store.PreviewConversion) []lifecycle {
	var out []lifecycle
	for i := range convs {
		c := &convs[i]
		after := func(at time.Time) time.Time {
			if at.Before(c.PricedAt) {
				return c.PricedAt
			}
			return at
		}
		for k, rf := range c.Refunds {
			out = append(out, lifecycle{at: after(rf.At), conv: i, refund: k})
		}
		if c.Reversed {
			out = append(out, lifecycle{at: after(c.ReversedAt), conv: i, refund: -1})
		}
	}
	slices.SortStableFunc(out, func(a, b lifecycle) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.conv, b.conv), cmp.Compare(a.refund, b.refund))
	})
	return out
}

// price handles conversion i as its pricing and its customer's workflow did.
func (r *replay) price(i int) {
	c := &r.convs[i]
	p := &r.out[i]
	p.ConversionID, p.Band = c.ID, -1
	// The tiered line is computed on the conversion's amounts now, refunds
	// and edits included: what the line's recomputation after each refund
	// or edit comes to under the adjustment it carries.
	sale := c.SaleAmount.Sub(c.RefundedSale)
	p.p13 = c.PricedPayout.Add(c.RefundPayout).Add(c.ManualPayout)
	p.r13 = c.PricedRevenue.Add(c.RefundRevenue).Add(c.ManualRevenue)
	p.amounts = tiered.Amounts{SaleAmount: sale, Payout: p.p13, Revenue: p.r13, Currency: c.Currency}
	// The metrics count it as priced; its refunds take their part off when
	// they come, and never an edit.
	r.counted[i] = tiered.Amounts{SaleAmount: c.SaleAmount, Payout: c.PricedPayout, Revenue: c.PricedRevenue, Currency: c.Currency}

	// Layer 4: every covering rule counts the conversion; the winner
	// adjusts it at its period's high-water band.
	facts := tiered.Facts{OfferID: c.OfferID, AdvertiserID: c.AdvertiserID, PartnerID: c.PartnerID, Event: c.Event, At: c.OccurredAt}
	raised := map[cycleKey]bool{}
	for j := range r.tiered {
		rule := &r.tiered[j]
		if !rule.Active || !rule.Covers(facts, r.loc) {
			continue
		}
		start, _ := tiered.PeriodOf(*rule, c.OccurredAt, r.loc)
		key := cycleKey{rule.ID, c.PartnerID, c.OfferID, start}
		cy := r.cycles[key]
		if cy == nil {
			cy = &cycle{band: -1}
			r.cycles[key] = cy
		}
		cy.metrics = cy.metrics.Add(tiered.Arrival(c.Event, r.counted[i]))
		r.countedIn[i] = append(r.countedIn[i], key)
		if band := tiered.HighWater(cy.band, rule.BandAt(cy.metrics)); band > cy.band {
			cy.band, raised[key] = band, true
		}
	}
	if win, ok := tiered.Select(r.tiered, facts, r.loc); ok {
		start, end := tiered.PeriodOf(win, c.OccurredAt, r.loc)
		key := cycleKey{win.ID, c.PartnerID, c.OfferID, start}
		cy := r.cycles[key]
		res := tiered.Apply(win, cy.band, p.amounts)
		e := res.Explanation.WithPeriod(start, end).WithMetrics(cy.metrics)
		p.TieredRuleID, p.Band = win.ID, cy.band
		p.tieredPayout, p.tieredRevenue = res.Payout, res.Revenue
		p.payoutAdjustment, p.revenueAdj = e.Payout.Adjustment, e.Revenue.Adjustment
		p.tieredWhy = tieredWhy(win, e)
		cy.members = append(cy.members, i)
	}

	// Layer 5: the customer's progress on every Customer Value rule, with
	// the amounts as priced.
	if cu := r.customer(c, true); cu != nil {
		r.wake(cu, c.PricedAt)
		r.give(cu.state.Apply(r.value, customervalue.Conversion{
			ID: c.ID, PartnerID: c.PartnerID, OfferID: c.OfferID, AdvertiserID: c.AdvertiserID, Event: c.Event,
			At: c.OccurredAt, Currency: c.Currency, SaleAmount: c.SaleAmount,
			Revenue: c.PricedRevenue, Payout: c.PricedPayout, Data: c.Data,
		}, r.loc))
	}

	// A band that rose re-prices the period's earlier conversions, as
	// the cycle's workflow does right after.
	for key := range raised {
		r.reprice(r.byID[key.rule], r.cycles[key], c.PricedAt)
	}
}

// lifecycle applies a refund or a reversal: the metrics of every cycle that
// counts the conversion, and its customer's progress. Neither moves a band
// nor fires an outcome.
func (r *replay) lifecycle(e lifecycle) {
	c := &r.convs[e.conv]
	var change tiered.Contribution
	if e.refund >= 0 {
		rf := c.Refunds[e.refund]
		change = tiered.Contribution{Base: c.Event == "", SaleAmount: rf.SaleAmount.Neg(), Revenue: rf.Revenue, Payout: rf.Payout}
		a := &r.counted[e.conv]
		a.SaleAmount, a.Revenue, a.Payout = a.SaleAmount.Add(change.SaleAmount), a.Revenue.Add(change.Revenue), a.Payout.Add(change.Payout)
	} else {
		change = tiered.Reversal(c.Event, r.counted[e.conv])
		r.reversed[e.conv] = true
	}
	for _, key := range r.countedIn[e.conv] {
		r.cycles[key].metrics = r.cycles[key].metrics.Add(change)
	}
	if e.refund < 0 {
		r.countedIn[e.conv] = nil
	}

	cu := r.customer(c, false)
	if cu == nil {
		return
	}
	r.wake(cu, e.at)
	if e.refund < 0 {
		cu.state.Reverse(r.value, c.ID)
		return
	}
	// The workflow is told the totals refunded so far.
	var sale, revenue, payout decimal.Decimal
	for _, rf := range c.Refunds[:e.refund+1] {
		sale, revenue, payout = sale.Add(rf.SaleAmount), revenue.Sub(rf.Revenue), payout.Sub(rf.Payout)
	}
	cu.state.Refund(c.ID, sale, revenue, payout)
}

// customer returns the conversion's customer in the replay (nil for a
// conversion without one, or when no Customer Value rule takes part),
// creating it when create is set.
func (r *replay) customer(c *store.PreviewConversion, create bool) *customer {
	if c.UserID == "" || len(r.value) == 0 {
		return nil
	}
	key := customerKey{c.AdvertiserID, c.UserID}
	cu := r.customers[key]
	if cu == nil && create {
		cu = &customer{}
		r.customers[key] = cu
	}
	return cu
}

// wake settles the customer's cycles as its workflow's timer does before
// it handles something at time at: at the next wake-up, or at once when that
// had passed when the timer was set (after the last thing it handled), until
// nothing more is due by at. Settling drops cycles long over
// (customervalue.ClosedCycleRetention), so a late conversion into one does
// not count, as live.
func (r *replay) wake(cu *customer, at time.Time) {
	for {
		next, ok := cu.state.NextWakeUp(r.value, r.loc)
		if !ok || next.After(at) {
			break
		}
		fired := next
		if cu.last.After(fired) {
			fired = cu.last
		}
		r.give(cu.state.Due(r.value, fired, r.loc))
		if again, ok := cu.state.NextWakeUp(r.value, r.loc); ok && again.Equal(next) {
			break // nothing moved; the workflow waits for the next signal too
		}
	}
	if at.After(cu.last) {
		cu.last = at
	}
}

// give records Customer Value outcomes on the conversions they go to (one
// outside the replay is dropped: the live path would pay it on a
// conversion the preview does not compare).
func (r *replay) give(outcomes []customervalue.Outcome) {
	for k := range outcomes {
		o := outcomes[k]
		i, ok := r.index[o.ConversionID]
		if !ok {
			continue
		}
		p := &r.out[i]
		switch o.Kind {
		case customervalue.KindOverride:
			p.override, p.overrideRule = &o, r.valueByID[o.RuleID]
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

// reprice brings the cycle's earlier conversions to its band at time at, as
// RepriceCycle does: those below the band, not reversed and not paid by
// then, each to what tiered.Reprice gives on its current amounts, keeping
// what an override sets.
func (r *replay) reprice(rule *tiered.Rule, cy *cycle, at time.Time) {
	if rule == nil || (rule.RetroMode() != tiered.RetroEnabled && rule.RetroMode() != tiered.RetroCustom) {
		return
	}
	out := r.out
	var priced []tiered.Priced
	index := map[int64]int{}
	for _, i := range cy.members {
		p := &out[i]
		if p.Band >= cy.band || r.reversed[i] {
			continue
		}
		band := p.Band
		index[p.ConversionID] = i
		priced = append(priced, tiered.Priced{
			ConversionID: p.ConversionID, Amounts: p.amounts, TieredPayout: p.tieredPayout, TieredRevenue: p.tieredRevenue,
			Band: &band, Paid: r.paidBy(i, at), PayoutOverridden: p.override != nil,
			RevenueOverridden: p.override != nil && p.override.Revenue != nil,
			PayoutAdjustment:  p.payoutAdjustment, RevenueAdjustment: p.revenueAdj,
		})
	}
	for _, d := range tiered.Reprice(*rule, cy.band, priced) {
		p := &out[index[d.ConversionID]]
		p.tieredPayout, p.tieredRevenue = p.tieredPayout.Add(d.Payout), p.tieredRevenue.Add(d.Revenue)
		p.payoutAdjustment, p.revenueAdj = d.Explanation.Payout.Adjustment, d.Explanation.Revenue.Adjustment
		p.Band = cy.band
		p.tieredWhy = fmt.Sprintf("Tiered Commission %s, re-priced retroactively to %s: payout %s",
			ruleName(rule.ID, rule.Name), rule.BandName(cy.band), signed(p.tieredPayout))
	}
}

// paidBy reports whether conversion i was paid by time at: a payout run
// took one of its lines then (one paid at an unknown time counts as paid
// all along).
func (r *replay) paidBy(i int, at time.Time) bool {
	c := &r.convs[i]
	return c.Paid && (c.PaidAt.IsZero() || !c.PaidAt.After(at))
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

// ruleName names a rule in an explanation; a draft not saved yet has no id.
func ruleName(id int64, name string) string {
	if id == 0 {
		return fmt.Sprintf("%q (draft)", name)
	}
	return fmt.Sprintf("%d %q", id, name)
}

func signed(d decimal.Decimal) string {
	if d.IsPositive() {
		return "+" + d.String()
	}
	return d.String()
}
