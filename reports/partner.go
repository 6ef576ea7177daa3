package reports

import (
	"context"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
)

// The partner's own view: what a partner sees of its conversions,
// earnings and commission cycles, for the partner API and the console's
// partner portal alike. It never holds a revenue, a margin, a Partner
// Tier, an advertiser's destination or a customer's id: only what the
// partner is paid and why in its own terms. Every function takes the
// partner's id and reads nothing of another partner: another partner's
// conversion is not found.

// PartnerConversion is a conversion as its partner sees it.
type PartnerConversion struct {
	ID              int64     `json:"id"`
	OfferID         int64     `json:"offer_id"`
	OfferName       string    `json:"offer_name"`
	Event           string    `json:"event"`
	TransactionID   string    `json:"transaction_id,omitempty"`
	OrderID         string    `json:"order_id,omitempty"`
	Currency        string    `json:"currency"`
	Status          string    `json:"status"`
	RejectionReason string    `json:"rejection_reason,omitempty"`
	Reversed        bool      `json:"reversed"`
	OccurredAt      time.Time `json:"occurred_at"`
	// Payout is what the conversion pays the partner; Paid what of it a
	// payout run has paid, Unpaid what the next run takes.
	Payout decimal.Decimal `json:"payout"`
	Paid   decimal.Decimal `json:"paid"`
	Unpaid decimal.Decimal `json:"unpaid"`
	// Pending says whether work on it may still change the payout.
	Pending bool `json:"pending"`
	// Lines are its payout lines in the partner's words, for one
	// conversion only.
	Lines []PartnerLine `json:"lines,omitempty"`
}

// PartnerLine is one payout line as the partner sees it.
type PartnerLine struct {
	What        string          `json:"what"` // "payout", "tiered commission", "bonus", …
	Amount      decimal.Decimal `json:"amount"`
	At          time.Time       `json:"at"`
	PayoutRunID *int64          `json:"payout_run_id,omitempty"`
}

// PartnerConversionFilter selects a partner's conversions; zero fields do
// not filter.
type PartnerConversionFilter struct {
	From, To time.Time
	Status   string
	After    int64
	Limit    int
}

// PartnerConversionPage is a page of a partner's conversions, newest
// last, with the cursor of the next page (0 on the last).
type PartnerConversionPage struct {
	Items      []PartnerConversion `json:"items"`
	NextCursor int64               `json:"-"`
}

// PartnerConversions reads a page of the partner's conversions in id order.
func (s *Service) PartnerConversions(ctx context.Context, partnerID int64, f PartnerConversionFilter) (PartnerConversionPage, error) {
	if f.Status != "" && f.Status != store.StatusApproved && f.Status != store.StatusPending && f.Status != store.StatusRejected {
		return PartnerConversionPage{}, store.Invalid("status", "must be approved, pending or rejected")
	}
	cs, err := s.store.ListConversions(ctx, store.ConversionFilter{PartnerID: partnerID, From: f.From, To: f.To, Status: f.Status,
		After: f.After, Limit: f.Limit + 1})
	if err != nil {
		return PartnerConversionPage{}, err
	}
	var page PartnerConversionPage
	if len(cs) > f.Limit {
		cs = cs[:f.Limit]
		page.NextCursor = cs[f.Limit-1].ID
	}
	page.Items, err = s.partnerConversions(ctx, cs, false)
	return page, err
}

// PartnerConversion reads one of the partner's conversions with its payout
// lines; another partner's is not found.
func (s *Service) PartnerConversion(ctx context.Context, partnerID, id int64) (PartnerConversion, error) {
	c, err := s.store.Conversion(ctx, id)
	if err != nil {
		return PartnerConversion{}, err
	}
	if c.PartnerID != partnerID {
		return PartnerConversion{}, store.NotFound("conversion", id)
	}
	out, err := s.partnerConversions(ctx, []store.Conversion{c}, true)
	if err != nil {
		return PartnerConversion{}, err
	}
	return out[0], nil
}

func (s *Service) partnerConversions(ctx context.Context, cs []store.Conversion, withLines bool) ([]PartnerConversion, error) {
	if err := s.store.WithPending(ctx, cs); err != nil {
		return nil, err
	}
	ids := make([]int64, len(cs))
	offers := make([]int64, len(cs))
	for i, c := range cs {
		ids[i], offers[i] = c.ID, c.OfferID
	}
	names, err := s.store.NamesOf(ctx, nil, offers, nil, nil)
	if err != nil {
		return nil, err
	}
	lines, err := s.store.LinesOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]PartnerConversion, len(cs))
	for i, c := range cs {
		pc := PartnerConversion{ID: c.ID, OfferID: c.OfferID, OfferName: names.Offers[c.OfferID], Event: c.Event,
			TransactionID: c.TransactionID, OrderID: c.OrderID, Currency: c.Currency, Status: c.Status,
			RejectionReason: c.RejectionReason, Reversed: c.ReversedAt != nil, OccurredAt: c.OccurredAt,
			Payout: c.Payout, Pending: len(c.Pending) > 0}
		for _, l := range lines[c.ID] {
			if l.Kind != store.KindPayout {
				continue
			}
			if l.PayoutRunID != nil {
				pc.Paid = pc.Paid.Add(l.Amount)
			} else {
				pc.Unpaid = pc.Unpaid.Add(l.Amount)
			}
			if withLines {
				pc.Lines = append(pc.Lines, PartnerLine{What: partnerLineWords(l.Reason), Amount: l.Amount, At: l.CreatedAt, PayoutRunID: l.PayoutRunID})
			}
		}
		out[i] = pc
	}
	return out, nil
}

// partnerLineWords names a payout line's reason for its partner: a price
// line is "payout" whatever layer set it, so no Partner Tier shows.
func partnerLineWords(reason string) string {
	switch reason {
	case store.ReasonPrice:
		return "payout"
	case store.ReasonTiered:
		return "tiered commission"
	case store.ReasonRetro:
		return "tiered commission, retroactive"
	case store.ReasonBonus:
		return "bonus"
	case store.ReasonOverride:
		return "custom payout"
	case store.ReasonRefund:
		return "refund"
	case store.ReasonReversal:
		return "reversal"
	case store.ReasonManual:
		return "adjustment"
	}
	return "adjustment"
}

// Earnings are a partner's earnings per month and currency, newest first,
// and their totals per currency.
type Earnings struct {
	Periods []store.PartnerEarnings `json:"periods"`
	Totals  []store.PartnerEarnings `json:"totals"`
}

// PartnerEarnings sums the partner's conversions and payout over [from,
// to) (zero: no bound) per month of the network's time zone.
func (s *Service) PartnerEarnings(ctx context.Context, partnerID int64, from, to time.Time) (Earnings, error) {
	loc, err := s.store.NetworkTimeZone(ctx)
	if err != nil {
		return Earnings{}, err
	}
	periods, err := s.store.PartnerEarnings(ctx, partnerID, from, to, loc)
	if err != nil {
		return Earnings{}, err
	}
	out := Earnings{Periods: periods, Totals: []store.PartnerEarnings{}}
	if out.Periods == nil {
		out.Periods = []store.PartnerEarnings{}
	}
	for _, p := range periods {
		i := -1
		for j := range out.Totals {
			if out.Totals[j].Currency == p.Currency {
				i = j
			}
		}
		if i < 0 {
			out.Totals = append(out.Totals, store.PartnerEarnings{Period: "total", Currency: p.Currency})
			i = len(out.Totals) - 1
		}
		t := &out.Totals[i]
		t.Conversions += p.Conversions
		t.Pending += p.Pending
		t.Approved += p.Approved
		t.Rejected += p.Rejected
		t.Unpaid, t.Paid = t.Unpaid.Add(p.Unpaid), t.Paid.Add(p.Paid)
	}
	return out, nil
}

// PartnerCycle is a commission cycle as its partner sees it: the band held
// and the way to the next, on every metric but revenue (a partner never
// sees the network's revenue: a band bound on revenue shows the band, not
// the distance).
type PartnerCycle struct {
	RuleID      int64      `json:"rule_id"`
	RuleName    string     `json:"rule_name"`
	OfferID     int64      `json:"offer_id"`
	OfferName   string     `json:"offer_name"`
	PeriodStart time.Time  `json:"period_start"`
	PeriodEnd   *time.Time `json:"period_end,omitempty"`
	Closed      bool       `json:"closed"`
	// Band is the band held (-1: none yet), BandName its name, and Payout
	// what the band does to the payout in words ("10% increase").
	Band     int    `json:"band"`
	BandName string `json:"band_name,omitempty"`
	Payout   string `json:"payout,omitempty"`
	// Conversions and EventCount are the period's counts so far; SaleAmount
	// and PayoutTotal its sums, shown when a band of the rule bounds them.
	Conversions int64            `json:"conversions"`
	EventCount  int64            `json:"event_count"`
	SaleAmount  *decimal.Decimal `json:"sale_amount,omitempty"`
	PayoutTotal *decimal.Decimal `json:"payout_total,omitempty"`
	// Next is the band above and what it takes, nil at the top band.
	Next *PartnerNextBand `json:"next_band,omitempty"`
}

// PartnerNextBand is the next band and the distance on each metric a
// partner may see; RevenueBased says the band also needs a revenue the
// partner does not see.
type PartnerNextBand struct {
	Name         string     `json:"name"`
	Payout       string     `json:"payout,omitempty"`
	Needs        []Distance `json:"needs"`
	RevenueBased bool       `json:"revenue_based,omitempty"`
}

// PartnerCyclePage is a page of a partner's commission cycles.
type PartnerCyclePage struct {
	Items      []PartnerCycle `json:"items"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// PartnerCycles reads a page of the partner's commission cycles, newest
// period first.
func (s *Service) PartnerCycles(ctx context.Context, partnerID int64, after string, limit int) (PartnerCyclePage, error) {
	page, err := s.CommissionCycles(ctx, CycleFilter{PartnerID: partnerID, After: after, Limit: limit})
	if err != nil {
		return PartnerCyclePage{}, err
	}
	rules, err := s.tieredRules(ctx)
	if err != nil {
		return PartnerCyclePage{}, err
	}
	var offers []int64
	for _, row := range page.Rows {
		offers = append(offers, row.OfferID)
	}
	names, err := s.store.NamesOf(ctx, nil, offers, nil, nil)
	if err != nil {
		return PartnerCyclePage{}, err
	}
	out := PartnerCyclePage{Items: []PartnerCycle{}, NextCursor: page.NextCursor}
	for _, row := range page.Rows {
		if row.PartnerID != partnerID {
			continue // never another partner's
		}
		rule := rules[row.RuleID]
		pc := PartnerCycle{RuleID: row.RuleID, RuleName: row.RuleName, OfferID: row.OfferID, OfferName: names.Offers[row.OfferID],
			PeriodStart: row.PeriodStart, PeriodEnd: row.PeriodEnd, Closed: row.ClosedAt != nil, Band: row.Band, BandName: row.BandName,
			Conversions: row.Metrics.Conversions, EventCount: row.Metrics.EventCount}
		if row.Band >= 0 && row.Band < len(rule.Bands) {
			pc.Payout = payoutWords(rule.Bands[row.Band].Payout)
		}
		if bounds(rule, tiered.MetricSaleAmount) {
			v := row.Metrics.SaleAmount
			pc.SaleAmount = &v
		}
		if bounds(rule, tiered.MetricPayout) {
			v := row.Metrics.Payout
			pc.PayoutTotal = &v
		}
		if row.NextBand != nil {
			next := &PartnerNextBand{Name: row.NextBand.Name, Needs: []Distance{}}
			if nb := row.Band + 1; nb < len(rule.Bands) {
				next.Payout = payoutWords(rule.Bands[nb].Payout)
				for _, b := range rule.Bands[nb].Bounds {
					if b.Metric == tiered.MetricRevenue {
						next.RevenueBased = true
					}
				}
			}
			for _, d := range row.NextBand.Needs {
				if d.Metric != tiered.MetricRevenue {
					next.Needs = append(next.Needs, d)
				}
			}
			pc.Next = next
		}
		out.Items = append(out.Items, pc)
	}
	return out, nil
}

// bounds reports whether a band of the rule bounds the metric.
func bounds(r tiered.Rule, m tiered.Metric) bool {
	for _, b := range r.Bands {
		for _, bound := range b.Bounds {
			if bound.Metric == m {
				return true
			}
		}
	}
	return false
}

// payoutWords says what a band does to the payout, "" when nothing.
func payoutWords(a *tiered.Adjustment) string {
	if a == nil {
		return ""
	}
	v := a.Value.String()
	switch a.Action + "/" + a.By + a.Rate {
	case tiered.ActionIncrease + "/" + tiered.ByPercent:
		return v + "% more payout"
	case tiered.ActionIncrease + "/" + tiered.ByFlat:
		return v + " more per conversion"
	case tiered.ActionDecrease + "/" + tiered.ByPercent:
		return v + "% less payout"
	case tiered.ActionDecrease + "/" + tiered.ByFlat:
		return v + " less per conversion"
	case tiered.ActionSet + "/" + tiered.RateFixed:
		return "a payout of " + v + " per conversion"
	case tiered.ActionSet + "/" + tiered.RateSalePercent:
		return "a payout of " + v + "% of the sale amount"
	case tiered.ActionSet + "/" + tiered.RateRevenuePercent:
		// A percent of revenue would tell the revenue; say only that the
		// payout is set.
		return "a payout set by the band"
	}
	return ""
}
