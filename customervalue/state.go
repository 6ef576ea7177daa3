package customervalue

import (
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/pricing"
)

// State is one customer's progress on every Customer Value rule. The
// customer's workflow owns it, passes it whole into continue-as-new and
// persists it as a snapshot: it marshals to JSON with snake_case keys, and
// every list in it is kept sorted, so the same conversions in the same order
// give the same State and the same outcomes.
type State struct {
	// Seq is the number of conversions applied: the processing order.
	Seq int64 `json:"seq"`
	// Firsts holds the customer's earliest approved conversion per
	// (advertiser, offer, partner, event), whatever the rules: the anchor of
	// a rule is the earliest of those in its scope, so a rule created later
	// anchors right too. Reversals do not move them; a backdated earlier
	// conversion does.
	Firsts []First `json:"firsts,omitempty"`
	// Rules holds the progress per rule, by RuleID.
	Rules []*RuleState `json:"rules,omitempty"`
}

// First is the customer's earliest conversion of one advertiser, offer,
// partner and event.
type First struct {
	AdvertiserID int64     `json:"advertiser_id"`
	OfferID      int64     `json:"offer_id"`
	PartnerID    int64     `json:"partner_id"`
	Event        string    `json:"event,omitempty"`
	At           time.Time `json:"at"`
	ConversionID int64     `json:"conversion_id"`
}

// RuleState is the customer's progress on one rule.
type RuleState struct {
	RuleID int64 `json:"rule_id"`
	// Spent holds the once-per-customer outcomes given, one per group
	// (§13.15). A reversal of the conversion that got it re-arms it.
	Spent []Spent `json:"spent,omitempty"`
	// Cycles holds the progress per cycle and group, by cycle id then group.
	Cycles []*CycleState `json:"cycles,omitempty"`
	// DroppedThrough is the latest end of a cycle dropped from Cycles: a
	// conversion into a cycle that ended at or before it arrives too late to
	// count.
	DroppedThrough *time.Time `json:"dropped_through,omitempty"`
}

// CycleState is the customer's progress on one rule in one cycle and group.
type CycleState struct {
	CycleID string `json:"cycle_id"`
	Group   string `json:"group"`
	// Start and End are the cycle's bounds as last computed ([Start, End),
	// End nil when the cycle never ends).
	Start time.Time  `json:"start"`
	End   *time.Time `json:"end,omitempty"`
	// Entries are the group's surviving conversions in the cycle, in
	// processing order, with only the values the rule needs. Rules without
	// conditions, end-of-cycle trigger or percent once-bonus keep none.
	Entries []Entry `json:"entries,omitempty"`
	// Settled is true once the cycle's end has been handled by Due (its
	// end-of-cycle outcome given or found not due). A conversion that
	// arrives in the cycle afterwards clears it, so Due settles again.
	Settled bool `json:"settled,omitempty"`
	// Spent holds the once-per-cycle outcome given in this cycle and group.
	Spent []Spent `json:"spent,omitempty"`
	// Paid lists the conversions an end-of-cycle every-conversion bonus has
	// paid, so settling again pays only new ones.
	Paid []int64 `json:"paid,omitempty"`
}

// Entry is one conversion as a cycle keeps it.
type Entry struct {
	ConversionID int64     `json:"conversion_id"`
	Seq          int64     `json:"seq"`
	At           time.Time `json:"at"`
	PartnerID    int64     `json:"partner_id"`
	Currency     string    `json:"currency"`
	Event        bool      `json:"event,omitempty"` // an additional event, not the base conversion
	// SaleAmount and Revenue as priced (nil when 0); Payout only when a
	// condition reads it.
	SaleAmount *decimal.Decimal `json:"sale_amount,omitempty"`
	Revenue    *decimal.Decimal `json:"revenue,omitempty"`
	Payout     *decimal.Decimal `json:"payout,omitempty"`
	// Values holds the raw values of the data points the conditions read.
	Values map[string]string `json:"values,omitempty"`
	// RefundedSale is the sale amount refunded so far; RefundedRevenue and
	// RefundedPayout are what refunds took off the revenue and (when a
	// condition reads it) the payout so far.
	RefundedSale    *decimal.Decimal `json:"refunded_sale,omitempty"`
	RefundedRevenue *decimal.Decimal `json:"refunded_revenue,omitempty"`
	RefundedPayout  *decimal.Decimal `json:"refunded_payout,omitempty"`
}

// Spent is an outcome given once: to which conversion and partner, under
// which idempotency key.
type Spent struct {
	Group        string `json:"group"`
	CycleID      string `json:"cycle_id"`
	ConversionID int64  `json:"conversion_id"`
	PartnerID    int64  `json:"partner_id"`
	Key          string `json:"key"`
}

// Outcome is a ledger line a rule gives: a bonus line, or the override of
// one conversion's payout.
type Outcome struct {
	RuleID   int64  `json:"rule_id"`
	RuleName string `json:"rule_name"`
	Kind     Kind   `json:"kind"`
	// ConversionID is the conversion that gets the line; PartnerID its
	// partner, who gets the bonus.
	ConversionID int64  `json:"conversion_id"`
	PartnerID    int64  `json:"partner_id"`
	Currency     string `json:"currency"`
	// Payout is the bonus amount, or the override's target payout, rounded
	// to the currency's minor unit.
	Payout decimal.Decimal `json:"payout"`
	// Revenue is the revenue adjustment, nil without one: an extra revenue
	// amount for a bonus, the revenue target for an override.
	Revenue *decimal.Decimal `json:"revenue,omitempty"`
	// Key is a stable idempotency key: the same rule, group, cycle and
	// conversion give the same key, so the ledger writes a line once.
	Key         string      `json:"key"`
	Explanation Explanation `json:"explanation"`
}

// Apply counts an approved conversion (in processing order; its own
// timestamp decides its cycle and window, so late and backdated conversions
// land in the cycle they belong to) and returns the instant outcomes it
// triggers, by rule id: every bonus, and at most one override (the one
// naming the partner, then the newest). A conversion already counted is not
// counted twice; an outcome it is given again (a rule that keeps no
// conversions cannot tell) carries the same Key, so the ledger writes it
// once. Refunds and reversals never trigger outcomes; the next conversion
// does.
func (s *State) Apply(rules []Rule, c Conversion, loc *time.Location) []Outcome {
	loc = orUTC(loc)
	c.At = c.At.UTC()
	s.noteFirst(&c)
	s.Seq++

	type candidate struct {
		r  *Rule
		rs *RuleState
		cs *CycleState
		o  Outcome
	}
	var out []Outcome
	var overrides []candidate
	for _, r := range sortedRules(rules) {
		if !r.Active || !r.matches(c.AdvertiserID, c.OfferID, c.PartnerID, c.Event) {
			continue
		}
		w, ok := s.window(r)
		if !ok || !w.contains(c.At) {
			continue
		}
		cyc := cycleAt(r, w, c.At, loc)
		rs := s.ruleState(r.ID, true)
		if rs.DroppedThrough != nil && cyc.End != nil && !cyc.End.After(*rs.DroppedThrough) {
			continue // the cycle is long over and dropped
		}
		group := r.group(&c)
		cs := rs.cycle(cyc, group)
		if cs.entry(c.ID) >= 0 || slices.Contains(cs.Paid, c.ID) || cs.spentBy(c.ID) || rs.spentBy(c.ID) {
			continue // counted before
		}
		cs.Settled = false
		if r.keepsEntries() {
			cs.Entries = append(cs.Entries, newEntry(r, &c, s.Seq))
		}
		if r.Outcome.Trigger != TriggerInstant {
			continue
		}
		ev := newEvaluator(r.Conditions)
		for i := range cs.Entries {
			ev.add(&cs.Entries[i])
		}
		if !ev.allMet() || rs.isSpent(r, cs, group) {
			continue
		}
		o := instantOutcome(r, cs, &c, w, ev)
		if r.Outcome.Kind == KindOverride {
			overrides = append(overrides, candidate{r, rs, cs, o})
			continue
		}
		rs.spend(r, cs, o)
		out = append(out, o)
	}
	if len(overrides) > 0 {
		win := 0
		for i := 1; i < len(overrides); i++ {
			if overrideBeats(overrides[i].r, overrides[win].r) {
				win = i
			}
		}
		w := overrides[win]
		for i, l := range overrides {
			if i != win {
				w.o.Explanation.Superseded = append(w.o.Explanation.Superseded, Superseded{
					RuleID: l.r.ID, RuleName: l.r.Name, Reason: overrideReason(w.r, l.r),
				})
			}
		}
		w.rs.spend(w.r, w.cs, w.o)
		out = append(out, w.o)
		slices.SortStableFunc(out, func(a, b Outcome) int { return cmpInt(a.RuleID, b.RuleID) })
	}
	return out
}

// overrideBeats reports whether override a wins over b: the one naming the
// partner, then the newer, then the higher id.
func overrideBeats(a, b *Rule) bool {
	if a.namesPartner() != b.namesPartner() {
		return a.namesPartner()
	}
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}

func overrideReason(win, lose *Rule) string {
	switch {
	case win.namesPartner() != lose.namesPartner():
		return "lost to rule " + itoa(win.ID) + ": an override naming the partner beats one for all partners"
	case !win.CreatedAt.Equal(lose.CreatedAt):
		return "lost to rule " + itoa(win.ID) + ": the newer override wins"
	}
	return "lost to rule " + itoa(win.ID) + ": created at the same time; the higher id wins"
}

// instantOutcome builds the outcome a conversion gets from a rule whose goal
// holds after it.
func instantOutcome(r *Rule, cs *CycleState, c *Conversion, w window, ev *evaluator) Outcome {
	own := bases{scope: ScopeConversion, sale: c.SaleAmount, revenue: c.Revenue, n: 1}
	b := own
	if r.Outcome.Kind == KindBonus && r.Outcome.Frequency != EveryConversion {
		b = cycleBases(cs.Entries, c.Currency, ScopeCycleToDate)
		if cs.entry(c.ID) < 0 {
			// The rule kept no entries when the conversion arrived: the
			// cycle so far is this conversion.
			b = own
			b.scope = ScopeCycleToDate
		}
	}
	return newOutcome(r, cs, c.ID, c.PartnerID, c.Currency, w, ev, b)
}

// newOutcome computes an outcome's amounts and explanation.
func newOutcome(r *Rule, cs *CycleState, conversionID, partnerID int64, currency string, w window, ev *evaluator, b bases) Outcome {
	currency = strings.ToUpper(currency)
	o := Outcome{
		RuleID:       r.ID,
		RuleName:     r.Name,
		Kind:         r.Outcome.Kind,
		ConversionID: conversionID,
		PartnerID:    partnerID,
		Currency:     currency,
		Key:          outcomeKey(r, cs.Group, cs.CycleID, conversionID),
	}
	payout, revenue := outcomeAmounts(r, currency, b)
	o.Payout = payout.Amount
	if revenue != nil {
		o.Revenue = canonicalPtr(revenue.Amount)
	}
	o.Explanation = Explanation{
		RuleID:      r.ID,
		RuleName:    r.Name,
		Kind:        r.Outcome.Kind,
		Frequency:   r.Outcome.Frequency,
		Trigger:     r.Outcome.Trigger,
		Currency:    currency,
		MinorUnits:  pricing.MinorUnits(currency),
		Group:       cs.Group,
		Cycle:       CycleRef{ID: cs.CycleID, Start: cs.Start, End: cs.End},
		Anchor:      w.Anchor,
		WindowStart: w.Start,
		WindowEnd:   w.End,
		CompletedBy: conversionID,
		Conditions:  ev.results(),
		Payout:      payout,
		Revenue:     revenue,
		Summary:     summary(r, cs, conversionID, len(ev.aggs)),
	}
	return o
}

func summary(r *Rule, cs *CycleState, conversionID int64, conditions int) string {
	var f strings.Builder
	f.WriteString("Rule ")
	f.WriteString(quote(r.Name))
	f.WriteString(": ")
	if conditions == 0 {
		f.WriteString("no conditions, applies to all activity in its timeframe")
	} else {
		f.WriteString("all " + plural(conditions, "condition") + " met with conversion " + itoa(conversionID))
	}
	f.WriteString(" (group " + cs.Group + ", cycle " + cs.CycleID + ")")
	switch {
	case r.Outcome.Kind == KindOverride:
		f.WriteString("; the override replaces the payout of layers 1–4")
	case r.Outcome.Frequency == OncePerCustomer:
		f.WriteString("; bonus once per customer and group")
	case r.Outcome.Frequency == OncePerCycle:
		f.WriteString("; bonus once per cycle and group")
	default:
		f.WriteString("; bonus on every qualifying conversion")
	}
	if r.Outcome.Trigger == TriggerEndOfCycle {
		f.WriteString(", paid at the end of the cycle")
	}
	return f.String()
}

// outcomeKey is the idempotency key of an outcome.
func outcomeKey(r *Rule, group, cycleID string, conversionID int64) string {
	if r.Outcome.Kind == KindOverride {
		return "customer_value/" + itoa(r.ID) + "/override/" + itoa(conversionID)
	}
	return "customer_value/" + itoa(r.ID) + "/" + group + "/" + cycleID + "/" + string(r.Outcome.Frequency) + "/" + itoa(conversionID)
}

// cycleBases adds up the entries' sale amounts and revenues net of refunds,
// in the currency only.
func cycleBases(entries []Entry, currency, scope string) bases {
	b := bases{scope: scope}
	for i := range entries {
		e := &entries[i]
		if !strings.EqualFold(e.Currency, currency) {
			b.excluded++
			continue
		}
		b.n++
		b.sale = b.sale.Add(e.net(MetricSaleAmount))
		b.revenue = b.revenue.Add(e.net(MetricRevenue))
	}
	return b
}

// Reverse takes a fully reversed conversion out of every cycle: it no longer
// counts, and an outcome it got once (once per customer or per cycle) is
// re-armed, so the next conversion after which all conditions hold gets it
// again (§13.14). Bonuses other conversions got are never clawed back, and
// nothing fires on a reversal. The anchor does not move (§13.17). rules is
// not needed: the state holds everything a reversal touches.
func (s *State) Reverse(rules []Rule, conversionID int64) {
	_ = rules
	for _, rs := range s.Rules {
		rs.Spent = slices.DeleteFunc(rs.Spent, func(sp Spent) bool { return sp.ConversionID == conversionID })
		for _, cs := range rs.Cycles {
			if i := cs.entry(conversionID); i >= 0 {
				cs.Entries = slices.Delete(cs.Entries, i, i+1)
			}
			cs.Paid = slices.DeleteFunc(cs.Paid, func(id int64) bool { return id == conversionID })
			cs.Spent = slices.DeleteFunc(cs.Spent, func(sp Spent) bool { return sp.ConversionID == conversionID })
		}
	}
}

// Refund records partial refunds of a conversion: refundedSale is the sale
// amount refunded so far, refundedRevenue and refundedPayout what the
// refunds took off its layer 1–3 revenue and payout so far (a refunded sale
// amount lowers a revenue share and a percent payout too), so recording the
// same totals twice changes nothing, and totals smaller than those kept (an
// earlier report arriving late) change nothing either. Sums and amounts are reduced, never
// below zero; counts are unchanged (§13.13). Nothing fires on a refund.
func (s *State) Refund(conversionID int64, refundedSale, refundedRevenue, refundedPayout decimal.Decimal) {
	for _, rs := range s.Rules {
		for _, cs := range rs.Cycles {
			if i := cs.entry(conversionID); i >= 0 {
				e := &cs.Entries[i]
				e.RefundedSale = atLeast(e.RefundedSale, refundedSale)
				e.RefundedRevenue = atLeast(e.RefundedRevenue, refundedRevenue)
				if e.Payout != nil {
					e.RefundedPayout = atLeast(e.RefundedPayout, refundedPayout)
				}
			}
		}
	}
}

// atLeast is the larger of a refunded total kept and one reported: refunds
// only add up, so the larger is the later, whatever order two reports of
// the same conversion arrive in.
func atLeast(kept *decimal.Decimal, reported decimal.Decimal) *decimal.Decimal {
	if kept != nil && kept.GreaterThanOrEqual(reported) {
		return kept
	}
	return positivePtr(reported)
}

// noteFirst records the conversion as the earliest of its kind when it is.
func (s *State) noteFirst(c *Conversion) {
	for i := range s.Firsts {
		f := &s.Firsts[i]
		if f.AdvertiserID == c.AdvertiserID && f.OfferID == c.OfferID && f.PartnerID == c.PartnerID && f.Event == c.Event {
			if c.At.Before(f.At) {
				f.At, f.ConversionID = c.At, c.ID
			}
			return
		}
	}
	s.Firsts = append(s.Firsts, First{
		AdvertiserID: c.AdvertiserID, OfferID: c.OfferID, PartnerID: c.PartnerID, Event: c.Event,
		At: c.At, ConversionID: c.ID,
	})
	slices.SortFunc(s.Firsts, func(a, b First) int {
		if x := cmpInt(a.AdvertiserID, b.AdvertiserID); x != 0 {
			return x
		}
		if x := cmpInt(a.OfferID, b.OfferID); x != 0 {
			return x
		}
		if x := cmpInt(a.PartnerID, b.PartnerID); x != 0 {
			return x
		}
		return strings.Compare(a.Event, b.Event)
	})
}

// firstInScope returns the customer's earliest conversion in the rule's
// scope.
func (s *State) firstInScope(r *Rule) (time.Time, bool) {
	var first time.Time
	found := false
	for _, f := range s.Firsts {
		if r.matches(f.AdvertiserID, f.OfferID, f.PartnerID, f.Event) && (!found || f.At.Before(first)) {
			first, found = f.At, true
		}
	}
	return first, found
}

// ruleState returns the rule's state, created when create is true (and nil
// otherwise when there is none).
func (s *State) ruleState(ruleID int64, create bool) *RuleState {
	i, found := slices.BinarySearchFunc(s.Rules, ruleID, func(rs *RuleState, id int64) int { return cmpInt(rs.RuleID, id) })
	if found {
		return s.Rules[i]
	}
	if !create {
		return nil
	}
	rs := &RuleState{RuleID: ruleID}
	s.Rules = slices.Insert(s.Rules, i, rs)
	return rs
}

// cycle returns the state of a cycle and group, created when missing, with
// its bounds brought up to date.
func (rs *RuleState) cycle(ref CycleRef, group string) *CycleState {
	cmp := func(cs *CycleState, _ string) int {
		if x := strings.Compare(cs.CycleID, ref.ID); x != 0 {
			return x
		}
		return strings.Compare(cs.Group, group)
	}
	i, found := slices.BinarySearchFunc(rs.Cycles, "", cmp)
	if !found {
		rs.Cycles = slices.Insert(rs.Cycles, i, &CycleState{CycleID: ref.ID, Group: group})
	}
	cs := rs.Cycles[i]
	cs.Start, cs.End = ref.Start, ref.End
	return cs
}

// isSpent reports whether the rule's once outcome is already given in this
// group (and cycle).
func (rs *RuleState) isSpent(r *Rule, cs *CycleState, group string) bool {
	switch r.Outcome.Frequency {
	case OncePerCustomer:
		return slices.ContainsFunc(rs.Spent, func(sp Spent) bool { return sp.Group == group })
	case OncePerCycle:
		return len(cs.Spent) > 0
	}
	return false
}

// spend marks a once outcome given.
func (rs *RuleState) spend(r *Rule, cs *CycleState, o Outcome) {
	sp := Spent{Group: cs.Group, CycleID: cs.CycleID, ConversionID: o.ConversionID, PartnerID: o.PartnerID, Key: o.Key}
	switch r.Outcome.Frequency {
	case OncePerCustomer:
		rs.Spent = append(rs.Spent, sp)
		slices.SortStableFunc(rs.Spent, func(a, b Spent) int { return strings.Compare(a.Group, b.Group) })
	case OncePerCycle:
		cs.Spent = append(cs.Spent, sp)
	}
}

func (rs *RuleState) spentBy(conversionID int64) bool {
	return slices.ContainsFunc(rs.Spent, func(sp Spent) bool { return sp.ConversionID == conversionID })
}

func (cs *CycleState) spentBy(conversionID int64) bool {
	return slices.ContainsFunc(cs.Spent, func(sp Spent) bool { return sp.ConversionID == conversionID })
}

// entry returns the index of the conversion's entry, or -1.
func (cs *CycleState) entry(conversionID int64) int {
	return slices.IndexFunc(cs.Entries, func(e Entry) bool { return e.ConversionID == conversionID })
}

// newEntry keeps what the rule needs of a conversion.
func newEntry(r *Rule, c *Conversion, seq int64) Entry {
	e := Entry{
		ConversionID: c.ID,
		Seq:          seq,
		At:           c.At,
		PartnerID:    c.PartnerID,
		Currency:     strings.ToUpper(c.Currency),
		Event:        c.Event != "",
		SaleAmount:   positivePtr(c.SaleAmount),
		Revenue:      positivePtr(c.Revenue),
	}
	if r.usesPayoutMetric() {
		e.Payout = positivePtr(c.Payout)
	}
	for _, id := range r.keptDataPoints() {
		if v := c.Data[id]; v != "" {
			if e.Values == nil {
				e.Values = map[string]string{}
			}
			e.Values[id] = v
		}
	}
	return e
}

// amount returns the entry's amount for a metric as priced, and false when
// it has none.
func (e *Entry) amount(metric string) (decimal.Decimal, bool) {
	var p *decimal.Decimal
	switch metric {
	case MetricSaleAmount:
		p = e.SaleAmount
	case MetricRevenue:
		p = e.Revenue
	case MetricPayout:
		p = e.Payout
	}
	if p == nil {
		return decimal.Zero, false
	}
	return *p, true
}

// net returns the entry's amount for a metric net of refunds, at least 0.
func (e *Entry) net(metric string) decimal.Decimal {
	a, _ := e.amount(metric)
	var refunded *decimal.Decimal
	switch metric {
	case MetricSaleAmount:
		refunded = e.RefundedSale
	case MetricRevenue:
		refunded = e.RefundedRevenue
	case MetricPayout:
		refunded = e.RefundedPayout
	}
	if refunded != nil {
		a = a.Sub(*refunded)
	}
	return decimal.Max(decimal.Zero, a)
}

// positivePtr returns d in canonical form, or nil when it is not positive.
func positivePtr(d decimal.Decimal) *decimal.Decimal {
	if !d.IsPositive() {
		return nil
	}
	return canonicalPtr(d)
}

// OverrideTargets computes what an override rule sets a conversion's payout
// (and, with a revenue adjustment, its revenue) to, on the conversion's own
// sale amount and layer 1–3 revenue: as when it fired, and again after a
// partial refund, on the amounts net of it. revenue is nil when the rule
// leaves the revenue alone.
func OverrideTargets(r Rule, currency string, sale, revenue decimal.Decimal) (payout Calculation, rev *Calculation) {
	return outcomeAmounts(&r, strings.ToUpper(currency), bases{scope: ScopeConversion, sale: sale, revenue: revenue, n: 1})
}

// outcomeAmounts calculates a rule's outcome payout, and its revenue
// adjustment when it has one, on the bases b.
func outcomeAmounts(r *Rule, currency string, b bases) (payout Calculation, revenue *Calculation) {
	payout = calculate(r.Outcome.Payout, currency, b)
	if ra := r.Outcome.RevenueAdjustment; ra != nil {
		rc := calculate(*ra, currency, b)
		revenue = &rc
	}
	return payout, revenue
}

// Clone returns a copy of s that shares nothing it could change with s: the
// customer's workflow applies a conversion, a reversal, a refund or a
// wake-up to a copy and keeps the copy only once its outcomes are written.
// (Entries' amounts are pointers replaced, never written through, so they
// are shared.)
func (s *State) Clone() State {
	c := State{Seq: s.Seq, Firsts: slices.Clone(s.Firsts)}
	if s.Rules != nil {
		c.Rules = make([]*RuleState, len(s.Rules))
	}
	for i, rs := range s.Rules {
		r := *rs
		r.Spent = slices.Clone(rs.Spent)
		if rs.Cycles != nil {
			r.Cycles = make([]*CycleState, len(rs.Cycles))
		}
		for j, cs := range rs.Cycles {
			cc := *cs
			cc.Entries = slices.Clone(cs.Entries)
			cc.Spent = slices.Clone(cs.Spent)
			cc.Paid = slices.Clone(cs.Paid)
			r.Cycles[j] = &cc
		}
		c.Rules[i] = &r
	}
	return c
}
