package pricing

import (
	"fmt"

	"github.com/shopspring/decimal"
)

// Record is what a priced conversion keeps: the input its layer 1–3 amounts
// were computed from, narrowed to the decisions taken (the winning custom
// setting only), and the explanation. Refunds re-price from it, so they
// follow the decisions fixed when the conversion was priced (DESIGN §13.5).
type Record struct {
	Input       Input       `json:"input"`
	Explanation Explanation `json:"explanation"`
}

// NewRecord prices in and returns the result with its record.
func NewRecord(in Input) (Result, Record, error) {
	res, err := Price(in)
	if err != nil {
		return Result{}, Record{}, err
	}
	payout, revenue := ResolveCustom(in.Custom, in.PartnerID, in.At)
	var kept []CustomSetting
	if payout != nil {
		kept = append(kept, *payout)
	}
	if revenue != nil && revenue != payout {
		kept = append(kept, *revenue)
	}
	in.Custom = kept
	return res, Record{Input: in, Explanation: res.Explanation}, nil
}

// Reprice computes the layer 1–3 amounts of a conversion after partial
// refunds totalling refundedSale of its sale amount and refundedRevenue of
// its revenue (DESIGN §13.13, §14.4), under the decisions of its record: the
// layer that set its revenue and the one that set its payout stay those
// layers whatever the new amounts (a margin on no revenue left pays 0, it
// never falls back to the offer default). Fixed parts stay, percentage parts
// follow the reduced sale amount, and the refunded revenue is taken off the
// revenue that the margin and PRV are computed from. Nothing goes below
// zero, and with rates that are never negative a refund never raises an
// amount.
func Reprice(r Record, refundedSale, refundedRevenue decimal.Decimal) (Result, error) {
	in := r.Input
	in.SaleAmount = decimal.Max(decimal.Zero, in.SaleAmount.Sub(refundedSale))
	res, err := price(in, &decided{
		payout:          r.Explanation.PayoutLayer,
		revenue:         r.Explanation.RevenueLayer,
		refundedSale:    refundedSale,
		refundedRevenue: refundedRevenue,
	})
	if err != nil {
		return Result{}, fmt.Errorf("reprice: %w", err)
	}
	return res, nil
}
