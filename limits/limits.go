// Package limits holds the documented bounds of everything tierwise accepts
// (DESIGN §14.3): the largest amount and its decimal places, the range of
// percents, the longest text. The postback, the admin API and the pure
// cores' validation check them here; the database's constraints repeat the
// amount bounds (migration 0009) so no path around the API stores more.
//
// Each check returns nil or a problem phrased to follow a field name
// ("amount: must be at most 1000000000"), for the caller's list of problems.
package limits

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// Bounds of amounts and rates.
const (
	// MaxAmount is the largest magnitude of any amount: a sale, a revenue,
	// a fixed payout, a bonus, a band bound, a number data point.
	MaxAmount = 1_000_000_000
	// MaxScale is the most decimal places any amount or rate may carry.
	MaxScale = 6
	// MaxPercent bounds margins and percent-of-sale or percent-of-revenue
	// rates: 0–100.
	MaxPercent = 100
	// MaxAdjustmentPercent bounds percent increases and decreases of a band
	// or a retroactive adjustment: 0–1,000 %.
	MaxAdjustmentPercent = 1000
)

var (
	maxAmount     = decimal.NewFromInt(MaxAmount)
	maxPercent    = decimal.NewFromInt(MaxPercent)
	maxAdjustment = decimal.NewFromInt(MaxAdjustmentPercent)
)

// Lengths of text, in characters (runes).
const (
	// MaxUserIDLength bounds a customer's user_id; every user_id up to it
	// maps to a valid workflow id (workflows.CustomerWorkflowID).
	MaxUserIDLength = 255
	// MaxIDLength bounds the other identifiers a postback or click carries:
	// order_id, transaction_id, coupon_code, source_id, adv1–adv5, sub1–sub5.
	MaxIDLength = 255
	// MaxTextValueLength bounds a text data point's value.
	MaxTextValueLength = 1000
	// MaxEmailLength is the longest email address (RFC 5321).
	MaxEmailLength = 254
	// MaxTokenLength bounds secrets sent to tierwise (postback tokens, keys).
	MaxTokenLength = 128
	// MaxNoteLength bounds free-text reasons and notes.
	MaxNoteLength = 1000
)

// Amount checks a non-negative amount: at most MaxAmount, at most MaxScale
// decimal places.
func Amount(d decimal.Decimal) error {
	if d.IsNegative() {
		return errors.New("must not be negative")
	}
	return SignedAmount(d)
}

// SignedAmount checks an amount that may be negative (a number data point, a
// band bound): magnitude at most MaxAmount, at most MaxScale decimal places.
// It never builds the number in full, so 1e400000000 costs nothing.
func SignedAmount(d decimal.Decimal) error {
	if d.IsZero() {
		return nil
	}
	exp := int(d.Exponent())
	// The coefficient has k digits, so |d| ≥ 10^(k−1+exp): with k+exp above
	// 10 it is at least 10^10, over any bound, whatever the digits.
	if d.NumDigits()+exp > 10 {
		return tooLarge
	}
	if exp < -(MaxScale + 30) {
		return tooPrecise
	}
	if d.Normalize().Exponent() < -MaxScale {
		return tooPrecise
	}
	if d.Abs().GreaterThan(maxAmount) {
		return tooLarge
	}
	return nil
}

var (
	tooLarge   = fmt.Errorf("must be at most %d in magnitude", MaxAmount)
	tooPrecise = fmt.Errorf("must have at most %d decimal places", MaxScale)
)

// Percent checks a margin or a percent-of-sale or percent-of-revenue rate:
// 0–100, at most MaxScale decimal places.
func Percent(d decimal.Decimal) error {
	return bounded(d, maxPercent)
}

// AdjustmentPercent checks a percent increase or decrease: 0–1,000, at most
// MaxScale decimal places.
func AdjustmentPercent(d decimal.Decimal) error {
	return bounded(d, maxAdjustment)
}

func bounded(d, max decimal.Decimal) error {
	if err := SignedAmount(d); err != nil && !errors.Is(err, tooLarge) {
		return err
	}
	if d.IsNegative() || d.NumDigits()+int(d.Exponent()) > 10 || d.GreaterThan(max) {
		return fmt.Errorf("must be between 0 and %s (a percent)", max)
	}
	return nil
}

// ParseAmount parses a decimal sent as text and checks it with check,
// reporting a problem rather than a parse error.
func ParseAmount(s string, check func(decimal.Decimal) error) (decimal.Decimal, error) {
	if len(s) > 64 {
		return decimal.Zero, fmt.Errorf("must be a decimal number of at most 64 characters, got %d", len(s))
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Zero, fmt.Errorf("must be a decimal number, got %q", Clip(s))
	}
	if err := check(d); err != nil {
		return decimal.Zero, err
	}
	return d, nil
}

// Text checks free text: valid UTF-8, no NUL or other control character
// (tabs and line breaks allowed when multiline), at most max characters.
func Text(s string, max int, multiline bool) error {
	if !utf8.ValidString(s) {
		return errors.New("must be valid UTF-8 text")
	}
	for _, r := range s {
		if r == 0 {
			return errors.New("must not contain a NUL character")
		}
		if unicode.IsControl(r) && !(multiline && (r == '\t' || r == '\n' || r == '\r')) {
			return fmt.Errorf("must not contain control characters (found U+%04X)", r)
		}
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Errorf("must be at most %d characters, got %d", max, n)
	}
	return nil
}

// Clip shortens a value for a message or a log line: at most 64 characters
// and valid UTF-8, so no answer or log carries a whole oversized parameter.
func Clip(s string) string { return Shorten(s, 64) }

// Shorten is Clip to at most max characters, and a note of the length.
func Shorten(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max]) + fmt.Sprintf("… (%d characters)", len(r))
}
