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
	if win, ok := SelectCustom(in.Custom, in.PartnerID, in.At); ok {
		in.Custom = []CustomSetting{win}
	} else {
		in.Custom = nil
	}
	return res, Record{Input: in, Explanation: res.Explanation}, nil
}

// Reprice computes the layer 1–3 amounts of a conversion after partial
// refunds totalling refundedSale of its sale amount and refundedRevenue of
// its revenue (DESIGN §13.13): fixed parts stay, percentage parts follow the
// reduced sale amount, and a refunded revenue reduces the revenue that the
// margin and PRV are computed from. Nothing goes below zero.
func Reprice(r Record, refundedSale, refundedRevenue decimal.Decimal) (Result, error) {
	in := r.Input
	in.SaleAmount = decimal.Max(decimal.Zero, in.SaleAmount.Sub(refundedSale))
	res, err := Price(in)
	if err != nil {
		return Result{}, fmt.Errorf("reprice: %w", err)
	}
	if refundedRevenue.IsPositive() {
		revenue := decimal.Max(decimal.Zero, res.Revenue.Sub(refundedRevenue))
		in.PostbackRevenue = &revenue
		if res, err = Price(in); err != nil {
			return Result{}, fmt.Errorf("reprice: %w", err)
		}
	}
	return res, nil
}
