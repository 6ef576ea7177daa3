package pricing

import (
	"strings"

	"github.com/shopspring/decimal"
)

// MinorUnits returns the number of decimals of an ISO 4217 currency code
// (case-insensitive): 0 for JPY, KRW and the other zero-decimal currencies,
// 3 for BHD, IQD, JOD, KWD, LYD, OMR and TND, 4 for CLF and UYW, and 2 for
// every other code, unknown ones included.
func MinorUnits(currency string) int32 {
	switch strings.ToUpper(currency) {
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
		"RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3
	case "CLF", "UYW":
		return 4
	}
	return 2
}

// Round rounds amount to the currency's minor unit, ties away from zero
// (0.005 USD is 0.01, −0.005 USD is −0.01, 2.5 JPY is 3).
func Round(amount decimal.Decimal, currency string) decimal.Decimal {
	return amount.Round(MinorUnits(currency))
}

// validCurrency reports whether code looks like an ISO 4217 code: three
// ASCII letters.
func validCurrency(code string) bool {
	if len(code) != 3 {
		return false
	}
	for i := 0; i < len(code); i++ {
		c := code[i] | 0x20 // lower-case ASCII letters
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}
