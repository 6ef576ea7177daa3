package bench

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

// CheckResult is what the correctness check found.
type CheckResult struct {
	Conversions int // the run's conversions in the database
	Lines       int // their ledger lines
	// Lost counts accepted postbacks without a priced conversion (and
	// stored conversions never priced).
	Lost int
	// Duplicated counts conversions priced more than once, lines written
	// twice or beyond what their reasons allow, and postbacks sent again
	// that were not answered as duplicates of the first.
	Duplicated int
	// Mismatched counts partners whose ledger totals (payout or revenue)
	// differ from the independent recomputation; MismatchedConversions the
	// conversions that do.
	Mismatched            int
	MismatchedConversions int
	Partners              int
	Bonuses, Overrides    int // Customer Value outcomes recomputed
	Problems              []string
}

func (r *CheckResult) problem(format string, args ...any) {
	if len(r.Problems) < 12 {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// OK reports whether nothing was lost, duplicated or mismatched.
func (r CheckResult) OK() bool {
	return r.Lost == 0 && r.Duplicated == 0 && r.Mismatched == 0 && r.MismatchedConversions == 0
}

// expected is what the recomputation says one conversion's lines add up to.
type expected struct {
	payout, revenue decimal.Decimal
}

// check verifies the run's ledger against the accepted postbacks and an
// independent recomputation: layers 1–3 with pricing.Price from the offers,
// tiers and custom payouts read from PostgreSQL; layer 4 by recounting
// every cycle of every active tiered rule from the stored conversions in id
// order (with retroactive mode enabled and no payout runs every conversion
// of a period ends at the period's final high-water band); layer 5 by
// replaying each customer's conversions in processing order (priced_at,
// the order the customer's workflow priced them) through a fresh
// customervalue.State.
func check(ctx context.Context, d *db, st *store.Store, n *Network, accepted []Accepted) (CheckResult, error) {
	var res CheckResult
	convs, err := d.conversions(ctx)
	if err != nil {
		return res, err
	}
	lines, err := d.lines(ctx)
	if err != nil {
		return res, err
	}
	res.Conversions, res.Lines = len(convs), len(lines)
	byID := make(map[int64]*storedConversion, len(convs))
	for i := range convs {
		byID[convs[i].ID] = &convs[i]
	}
	linesOf := make(map[int64][]storedLine, len(convs))
	for _, l := range lines {
		linesOf[l.ConversionID] = append(linesOf[l.ConversionID], l)
	}

	// Every accepted postback: one conversion, priced once.
	for _, a := range accepted {
		switch {
		case a.Resend && (!a.Duplicate || a.ConversionID != a.FirstID):
			res.Duplicated++
			res.problem("a postback sent again was answered as conversion %d (duplicate %t), not as a duplicate of %d", a.ConversionID, a.Duplicate, a.FirstID)
		case a.Resend:
		case a.Duplicate:
			res.Lost++
			res.problem("a new postback was answered as a duplicate of conversion %d", a.ConversionID)
		case byID[a.ConversionID] == nil:
			res.Lost++
			res.problem("accepted conversion %d is not stored", a.ConversionID)
		}
	}
	bandsOf := map[int64]int{}
	rules, err := st.TieredRules(ctx, true)
	if err != nil {
		return res, err
	}
	for _, r := range rules {
		bandsOf[r.ID] = len(r.Bands)
	}
	for i := range convs {
		c := &convs[i]
		if c.Status != store.StatusApproved || c.ReversedAt != nil {
			continue
		}
		if c.PricedAt == nil {
			res.Lost++
			res.problem("conversion %d was never priced", c.ID)
			continue
		}
		res.Duplicated += checkLines(&res, c, linesOf[c.ID], bandsOf[c.TieredRuleID])
	}

	// The recomputation.
	want, err := recompute(ctx, d, st, rules, convs, &res)
	if err != nil {
		return res, err
	}
	type totals struct{ payout, revenue decimal.Decimal }
	wantPartner, gotPartner := map[int64]totals{}, map[int64]totals{}
	for i := range convs {
		c := &convs[i]
		w, ok := want[c.ID]
		if !ok {
			continue
		}
		var got totals
		for _, l := range linesOf[c.ID] {
			if l.Kind == store.KindPayout {
				got.payout = got.payout.Add(l.Amount)
			} else {
				got.revenue = got.revenue.Add(l.Amount)
			}
		}
		switch {
		case !got.payout.Equal(w.payout) || !got.revenue.Equal(w.revenue):
			res.MismatchedConversions++
			res.problem("conversion %d (partner %d, offer %d, event %q, tiered band %d): ledger payout %s revenue %s, recomputed %s and %s",
				c.ID, c.PartnerID, c.OfferID, c.Event, c.TieredBand, got.payout, got.revenue, w.payout, w.revenue)
		case !c.Payout.Equal(got.payout) || !c.Revenue.Equal(got.revenue):
			res.MismatchedConversions++
			res.problem("conversion %d: totals %s and %s are not the sums of its lines %s and %s", c.ID, c.Payout, c.Revenue, got.payout, got.revenue)
		}
		wp, gp := wantPartner[c.PartnerID], gotPartner[c.PartnerID]
		wantPartner[c.PartnerID] = totals{wp.payout.Add(w.payout), wp.revenue.Add(w.revenue)}
		gotPartner[c.PartnerID] = totals{gp.payout.Add(got.payout), gp.revenue.Add(got.revenue)}
	}
	res.Partners = len(wantPartner)
	for p, w := range wantPartner {
		g := gotPartner[p]
		if !g.payout.Equal(w.payout) || !g.revenue.Equal(w.revenue) {
			res.Mismatched++
			res.problem("partner %d: ledger payout %s revenue %s, recomputed %s and %s", p, g.payout, g.revenue, w.payout, w.revenue)
		}
	}
	return res, nil
}

// lineReason is what a ledger line is for: its kind, its reason and, for a
// bonus, its rule.
type lineReason struct {
	kind, reason string
	rule         int64
}

// checkLines counts the conversion's lines that are one too many: a second
// price line, two lines with one key, more tiered, retroactive, bonus or
// override lines than their reasons allow, or lines of a reason the bench
// never causes (refunds, reversals). bands is the number of bands of the
// conversion's tiered rule: one retroactive delta per band reached at most.
func checkLines(res *CheckResult, c *storedConversion, lines []storedLine, bands int) int {
	extra := 0
	keys := map[string]int{}
	reasons := map[lineReason]int{}
	for _, l := range lines {
		keys[l.Kind+"/"+l.Key]++
		r := lineReason{kind: l.Kind, reason: l.Reason}
		if l.Reason == store.ReasonBonus {
			r.rule = l.RuleID
		}
		reasons[r]++
	}
	for k, n := range keys {
		if n > 1 {
			extra += n - 1
			res.problem("conversion %d has %d lines keyed %s", c.ID, n, k)
		}
	}
	for _, kind := range []string{store.KindPayout, store.KindRevenue} {
		if reasons[lineReason{kind: kind, reason: store.ReasonPrice}] == 0 {
			extra++
			res.problem("conversion %d is priced but has no %s price line", c.ID, kind)
		}
	}
	for r, n := range reasons {
		allowed := 0
		switch r.reason {
		case store.ReasonPrice, store.ReasonTiered, store.ReasonBonus, store.ReasonOverride:
			allowed = 1
		case store.ReasonRetro:
			allowed = bands
		}
		if n > allowed {
			extra += n - allowed
			res.problem("conversion %d has %d %s %s lines, at most %d allowed", c.ID, n, r.kind, r.reason, allowed)
		}
	}
	return extra
}

// recompute returns what each priced conversion's payout and revenue lines
// must add up to.
func recompute(ctx context.Context, d *db, st *store.Store, rules []tiered.Rule, convs []storedConversion, res *CheckResult) (map[int64]expected, error) {
	loc, err := st.NetworkTimeZone(ctx)
	if err != nil {
		return nil, err
	}
	valueRules, err := st.ActiveCustomerValueRules(ctx)
	if err != nil {
		return nil, err
	}
	inputs, err := pricingInputs(ctx, d, convs)
	if err != nil {
		return nil, err
	}

	// Layers 1–3.
	type priced struct {
		c      *storedConversion
		l13    pricing.Result
		facts  tiered.Facts
		amount tiered.Amounts
	}
	var all []*priced
	for i := range convs {
		c := &convs[i]
		if c.Status != store.StatusApproved || c.ReversedAt != nil || c.PricedAt == nil {
			continue
		}
		in, ok := inputs(c)
		if !ok {
			return nil, fmt.Errorf("conversion %d: offer %d has no event %q", c.ID, c.OfferID, c.Event)
		}
		r, err := pricing.Price(in)
		if err != nil {
			return nil, fmt.Errorf("recompute conversion %d: %w", c.ID, err)
		}
		all = append(all, &priced{
			c: c, l13: r,
			facts:  tiered.Facts{OfferID: c.OfferID, AdvertiserID: c.AdvertiserID, PartnerID: c.PartnerID, Event: c.Event, At: c.OccurredAt},
			amount: tiered.Amounts{SaleAmount: c.SaleAmount, Payout: r.Payout, Revenue: r.Revenue, Currency: c.Currency},
		})
	}

	// Layer 4: every covering rule counts the conversion in its cycle, in
	// id order; the band is the high-water mark.
	type cycleKey struct {
		rule, partner, offer int64
		start                time.Time
	}
	type cycleState struct {
		metrics tiered.Metrics
		band    int
	}
	cycles := map[cycleKey]*cycleState{}
	keyOf := func(r tiered.Rule, p *priced) cycleKey {
		start, _ := tiered.PeriodOf(r, p.c.OccurredAt, loc)
		return cycleKey{r.ID, p.c.PartnerID, p.c.OfferID, start}
	}
	type counted struct{ conversion, rule int64 }
	bandAt := map[counted]int{} // the band of a rule's cycle when it counted the conversion
	for _, p := range all {
		for _, r := range tiered.Covering(rules, p.facts, loc) {
			k := keyOf(r, p)
			cs := cycles[k]
			if cs == nil {
				cs = &cycleState{band: -1}
				cycles[k] = cs
			}
			cs.metrics = cs.metrics.Add(tiered.Arrival(p.c.Event, p.amount))
			cs.band = tiered.HighWater(cs.band, r.BandAt(cs.metrics))
			bandAt[counted{p.c.ID, r.ID}] = cs.band
		}
	}
	out := make(map[int64]expected, len(all))
	for _, p := range all {
		e := expected{payout: p.l13.Payout, revenue: p.l13.Revenue}
		if win, ok := tiered.Select(rules, p.facts, loc); ok {
			band := cycles[keyOf(win, p)].band
			if win.RetroMode() != tiered.RetroEnabled {
				// Without retroactive re-pricing the band is the one held
				// when the conversion was counted; id order stands in for
				// the processing order.
				band = bandAt[counted{p.c.ID, win.ID}]
			}
			t := tiered.Apply(win, band, p.amount)
			e.payout, e.revenue = e.payout.Add(t.Payout), e.revenue.Add(t.Revenue)
		}
		out[p.c.ID] = e
	}

	// Layer 5: each customer's conversions in processing order.
	type customer struct {
		advertiser int64
		user       string
	}
	byCustomer := map[customer][]*priced{}
	var order []customer
	for _, p := range all {
		if p.c.UserID == "" {
			continue
		}
		k := customer{p.c.AdvertiserID, p.c.UserID}
		if _, ok := byCustomer[k]; !ok {
			order = append(order, k)
		}
		byCustomer[k] = append(byCustomer[k], p)
	}
	overrides := map[int64]customervalue.Outcome{}
	bonuses := map[int64]expected{}
	for _, k := range order {
		ps := byCustomer[k]
		slices.SortStableFunc(ps, func(a, b *priced) int {
			if c := a.c.PricedAt.Compare(*b.c.PricedAt); c != 0 {
				return c
			}
			return cmp.Compare(a.c.ID, b.c.ID)
		})
		var s customervalue.State
		for _, p := range ps {
			data := make(map[string]string, len(p.c.Data))
			for key, v := range p.c.Data {
				data[key] = fmt.Sprint(v)
			}
			outcomes := s.Apply(valueRules, customervalue.Conversion{
				ID: p.c.ID, PartnerID: p.c.PartnerID, OfferID: p.c.OfferID, AdvertiserID: p.c.AdvertiserID, Event: p.c.Event,
				At: p.c.OccurredAt, Currency: p.c.Currency, SaleAmount: p.c.SaleAmount,
				Revenue: p.l13.Revenue, Payout: p.l13.Payout, Data: data,
			}, loc)
			for _, o := range outcomes {
				switch o.Kind {
				case customervalue.KindOverride:
					res.Overrides++
					overrides[o.ConversionID] = o
				default:
					res.Bonuses++
					b := bonuses[o.ConversionID]
					b.payout = b.payout.Add(o.Payout)
					if o.Revenue != nil {
						b.revenue = b.revenue.Add(*o.Revenue)
					}
					bonuses[o.ConversionID] = b
				}
			}
		}
	}
	// An override replaces layers 1–4 (and sets the revenue when it has a
	// revenue adjustment); bonuses are on top.
	for id, o := range overrides {
		e := out[id]
		e.payout = o.Payout
		if o.Revenue != nil {
			e.revenue = *o.Revenue
		}
		out[id] = e
	}
	for id, b := range bonuses {
		e := out[id]
		out[id] = expected{payout: e.payout.Add(b.payout), revenue: e.revenue.Add(b.revenue)}
	}
	return out, nil
}

// pricingInputs reads the offers' events, the partners' tiers and the
// custom payouts, and returns a function that builds a conversion's
// pricing input from them.
func pricingInputs(ctx context.Context, d *db, convs []storedConversion) (func(*storedConversion) (pricing.Input, bool), error) {
	events, err := d.offerEvents(ctx)
	if err != nil {
		return nil, err
	}
	type offerEvent struct {
		offer int64
		event string
	}
	defaults := map[offerEvent]offerEventRow{}
	for _, e := range events {
		defaults[offerEvent{e.OfferID, e.Event}] = e
	}
	var partners []int64
	for _, c := range convs {
		if !slices.Contains(partners, c.PartnerID) {
			partners = append(partners, c.PartnerID)
		}
	}
	tierRows, err := d.partnerTiers(ctx, partners)
	if err != nil {
		return nil, err
	}
	type partnerOffer struct{ partner, offer int64 }
	tiers := map[partnerOffer]*pricing.Tier{}
	for _, t := range tierRows {
		tiers[partnerOffer{t.PartnerID, t.OfferID}] = &pricing.Tier{
			ID: t.TierID, Name: t.TierName, Active: t.TierStatus == "active", Margin: t.Margin,
			OfferListed: t.Listed, ApplyMargin: t.ApplyMargin,
		}
	}
	customRows, err := d.customPayouts(ctx)
	if err != nil {
		return nil, err
	}
	customs := map[offerEvent][]pricing.CustomSetting{}
	for _, c := range customRows {
		s := pricing.CustomSetting{ID: c.ID, PartnerID: c.PartnerID, StartsAt: c.StartsAt, EndsAt: c.EndsAt, CreatedAt: c.CreatedAt}
		if c.Payout.Type != nil {
			s.Payout = &pricing.PayoutRate{Type: pricing.PayoutType(*c.Payout.Type), Amount: c.Payout.Amount, Percent: c.Payout.Percent}
		}
		if c.Revenue.Type != nil {
			s.Revenue = &pricing.RevenueRate{Type: pricing.RevenueType(*c.Revenue.Type), Amount: c.Revenue.Amount, Percent: c.Revenue.Percent}
		}
		k := offerEvent{c.OfferID, c.Event}
		customs[k] = append(customs[k], s)
	}
	return func(c *storedConversion) (pricing.Input, bool) {
		def, ok := defaults[offerEvent{c.OfferID, c.Event}]
		if !ok || def.Payout.Type == nil || def.Revenue.Type == nil {
			return pricing.Input{}, false
		}
		in := pricing.Input{
			PartnerID: c.PartnerID, At: c.OccurredAt, Currency: c.Currency, SaleAmount: c.SaleAmount,
			DefaultPayout:  pricing.PayoutRate{Type: pricing.PayoutType(*def.Payout.Type), Amount: def.Payout.Amount, Percent: def.Payout.Percent},
			DefaultRevenue: pricing.RevenueRate{Type: pricing.RevenueType(*def.Revenue.Type), Amount: def.Revenue.Amount, Percent: def.Revenue.Percent},
			Tier:           tiers[partnerOffer{c.PartnerID, c.OfferID}],
		}
		for _, s := range customs[offerEvent{c.OfferID, c.Event}] {
			if s.PartnerID == 0 || s.PartnerID == c.PartnerID {
				in.Custom = append(in.Custom, s)
			}
		}
		if c.PostbackRevenue.Valid {
			in.PostbackRevenue = &c.PostbackRevenue.Decimal
		}
		return in, true
	}, nil
}
