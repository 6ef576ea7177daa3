package reports

import (
	"context"
	"errors"
	"slices"

	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/store"
)

// ConversionDetail is one conversion as its page shows it: the conversion
// with its names, ledger lines, the explanation, what was refunded and
// what work on it is still pending.
type ConversionDetail struct {
	Row         ConversionRow
	Lines       []store.LedgerLine
	Explanation Explanation
	// RefundedSale and RefundedRevenue are the refunds so far.
	RefundedSale    decimal.Decimal
	RefundedRevenue decimal.Decimal
	// Pending lists the work on the conversion still to be done, in words;
	// empty when its amounts are final for now.
	Pending []string
}

// Conversion builds the detail of conversion id.
func (s *Service) Conversion(ctx context.Context, id int64) (ConversionDetail, error) {
	c, err := s.Pending(ctx, id)
	if err != nil {
		return ConversionDetail{}, err
	}
	rows, err := s.rows(ctx, []store.Conversion{c})
	if err != nil {
		return ConversionDetail{}, err
	}
	lines, err := s.store.LinesOf(ctx, []int64{id})
	if err != nil {
		return ConversionDetail{}, err
	}
	d := ConversionDetail{Row: rows[0], Lines: lines[id], Pending: PendingWork(c)}
	if d.Lines == nil {
		d.Lines = []store.LedgerLine{}
	}
	in := ExplainInput{Conversion: c, Lines: d.Lines, OfferName: d.Row.OfferName, ValueRules: map[int64]string{}}
	if c.TieredRuleID != 0 {
		in.Tiered, err = s.store.TieredRule(ctx, c.TieredRuleID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return ConversionDetail{}, err
		}
	}
	var ruleIDs []int64
	for _, l := range d.Lines {
		if l.RuleID != 0 && !slices.Contains(ruleIDs, l.RuleID) {
			ruleIDs = append(ruleIDs, l.RuleID)
		}
	}
	for _, rid := range ruleIDs {
		r, err := s.store.CustomerValueRule(ctx, rid)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return ConversionDetail{}, err
		}
		in.ValueRules[rid] = r.Name
	}
	if d.Explanation, err = Explain(in); err != nil {
		return ConversionDetail{}, err
	}
	totals, err := s.store.RefundTotals(ctx, id)
	if err != nil {
		return ConversionDetail{}, err
	}
	d.RefundedSale, d.RefundedRevenue = totals.SaleAmount, totals.Revenue
	return d, nil
}

// Pending reads a conversion with the work still pending on it (DESIGN
// §14.12), in one statement.
func (s *Service) Pending(ctx context.Context, id int64) (store.Conversion, error) {
	c, err := s.store.Conversion(ctx, id)
	if err != nil {
		return store.Conversion{}, err
	}
	cs := []store.Conversion{c}
	if err := s.store.WithPending(ctx, cs); err != nil {
		return store.Conversion{}, err
	}
	return cs[0], nil
}

// PendingWork says in words what work on a conversion is still to come, of
// a conversion read by Pending.
func PendingWork(c store.Conversion) []string {
	var out []string
	for _, p := range c.Pending {
		switch {
		case p == store.PendingPricing && c.Stuck:
			out = append(out, "pricing: stuck, its signal to its customer's workflow keeps failing ("+c.SignalError+"); the sweeper retries")
		case p == store.PendingPricing && c.SignalledAt == nil:
			out = append(out, "pricing: accepted, its customer's workflow not told yet (the sweeper retries)")
		case p == store.PendingPricing:
			out = append(out, "pricing: its customer's workflow has it")
		case p == store.PendingCustomerValue:
			out = append(out, "Customer Value: its customer's rules have not seen it yet")
		case p == store.PendingRepricing:
			out = append(out, "retroactive re-pricing: its commission cycle reached a higher band")
		}
	}
	return out
}
