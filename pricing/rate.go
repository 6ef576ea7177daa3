package pricing

import (
	"errors"

	"github.com/shopspring/decimal"
)

// PayoutType says how a payout rate computes the partner's payout.
type PayoutType string

// The payout types of DESIGN.md §4.
const (
	PayoutCPA    PayoutType = "cpa"     // a fixed amount
	PayoutCPS    PayoutType = "cps"     // a percent of the sale amount
	PayoutCPACPS PayoutType = "cpa_cps" // a fixed amount plus a percent of the sale amount
	PayoutPRV    PayoutType = "prv"     // a percent of the revenue
)

// RevenueType says how a revenue rate computes what the network earns.
type RevenueType string

// The revenue types of DESIGN.md §4.
const (
	RevenueRPA    RevenueType = "rpa"     // a fixed amount
	RevenueRPS    RevenueType = "rps"     // a percent of the sale amount
	RevenueRPARPS RevenueType = "rpa_rps" // a fixed amount plus a percent of the sale amount
)

// PayoutRate is how a payout is computed: a fixed part plus a percent of a
// base (the sale amount, or the revenue for PRV).
type PayoutRate struct {
	Type    PayoutType      `json:"type"`
	Amount  decimal.Decimal `json:"amount"`  // the fixed part; cpa and cpa_cps only
	Percent decimal.Decimal `json:"percent"` // 10 means 10%; cps, cpa_cps and prv only
}

// RevenueRate is how a revenue is computed: a fixed part plus a percent of the
// sale amount.
type RevenueRate struct {
	Type    RevenueType     `json:"type"`
	Amount  decimal.Decimal `json:"amount"`  // the fixed part; rpa and rpa_rps only
	Percent decimal.Decimal `json:"percent"` // 10 means 10%; rps and rpa_rps only
}

// Validate returns every problem with the rate at once (nil when there is
// none), each a *FieldError naming the field: a missing or unknown type, a
// negative amount or percent, or a non-zero part the type does not use.
func (r PayoutRate) Validate() error { return errors.Join(r.problems("")...) }

// Validate returns every problem with the rate at once (nil when there is
// none), each a *FieldError naming the field: a missing or unknown type, a
// negative amount or percent, or a non-zero part the type does not use.
func (r RevenueRate) Validate() error { return errors.Join(r.problems("")...) }

func (t PayoutType) parts() (fixed, percent, known bool) {
	switch t {
	case PayoutCPA:
		return true, false, true
	case PayoutCPS, PayoutPRV:
		return false, true, true
	case PayoutCPACPS:
		return true, true, true
	}
	return false, false, false
}

func (t RevenueType) parts() (fixed, percent, known bool) {
	switch t {
	case RevenueRPA:
		return true, false, true
	case RevenueRPS:
		return false, true, true
	case RevenueRPARPS:
		return true, true, true
	}
	return false, false, false
}

func (r PayoutRate) problems(path string) []error {
	fixed, percent, known := r.Type.parts()
	return rateProblems(path, string(r.Type), "cpa, cps, cpa_cps, prv", known, fixed, percent, r.Amount, r.Percent)
}

func (r RevenueRate) problems(path string) []error {
	fixed, percent, known := r.Type.parts()
	return rateProblems(path, string(r.Type), "rpa, rps, rpa_rps", known, fixed, percent, r.Amount, r.Percent)
}

func rateProblems(path, typ, types string, known, fixed, percent bool, amount, pct decimal.Decimal) []error {
	switch {
	case typ == "":
		return []error{fieldError(path+"Type", "is required (one of "+types+")")}
	case !known:
		return []error{fieldError(path+"Type", "unknown type "+quote(typ)+" (one of "+types+")")}
	}
	var errs []error
	switch {
	case amount.IsNegative():
		errs = append(errs, fieldError(path+"Amount", amount.String()+" is negative"))
	case !fixed && !amount.IsZero():
		errs = append(errs, fieldError(path+"Amount", "is "+amount.String()+", but type "+typ+" has no fixed amount"))
	}
	switch {
	case pct.IsNegative():
		errs = append(errs, fieldError(path+"Percent", pct.String()+" is negative"))
	case !percent && !pct.IsZero():
		errs = append(errs, fieldError(path+"Percent", "is "+pct.String()+", but type "+typ+" has no percent"))
	}
	return errs
}

func quote(s string) string { return `"` + s + `"` }
