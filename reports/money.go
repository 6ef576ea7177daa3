package reports

import (
	"strings"

	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/pricing"
)

// symbols are the currency signs written before an amount; other
// currencies are written with their code after it.
var symbols = map[string]string{"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$"}

// Money writes an amount as a manager reads it: to the currency's minor
// unit (more decimals only when it has more, as a sale amount may), with
// thousands separated, the sign first: "$1,234.50", "−$0.30", "12.000 KWD".
func Money(d decimal.Decimal, currency string) string {
	currency = strings.ToUpper(currency)
	units := pricing.MinorUnits(currency)
	n := d.Normalize()
	digits := n.StringFixed(units)
	if -n.Exponent() > units {
		digits = n.String()
	}
	neg := strings.HasPrefix(digits, "-")
	digits = strings.TrimPrefix(digits, "-")
	whole, frac, hasFrac := strings.Cut(digits, ".")
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	out := b.String()
	if sym, ok := symbols[currency]; ok {
		out = sym + out
	} else if currency != "" {
		out += " " + currency
	}
	if neg {
		out = "−" + out
	}
	return out
}

// SignedMoney is Money with a plus sign on positive amounts, for the lines
// that change an amount.
func SignedMoney(d decimal.Decimal, currency string) string {
	if d.IsPositive() {
		return "+" + Money(d, currency)
	}
	return Money(d, currency)
}
