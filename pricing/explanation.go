package pricing

import (
	"time"

	"github.com/shopspring/decimal"
)

// Layer names a layer that can set a conversion's payout or revenue.
type Layer string

// The layers of DESIGN.md §5 that this package computes, and the postback,
// whose revenue beats every layer's revenue rate.
const (
	LayerOfferDefault Layer = "offer_default"
	LayerPartnerTier  Layer = "partner_tier"
	LayerCustomPayout Layer = "custom_payout"
	LayerPostback     Layer = "postback"
)

// Explanation tells an affiliate manager how every cent of a conversion's
// layer 1–3 payout and revenue came about. It marshals to JSON with
// snake_case keys and every amount as a decimal string, and a JSON round trip
// gives a reflect.DeepEqual value.
type Explanation struct {
	Currency   string          `json:"currency"`
	MinorUnits int32           `json:"minor_units"`
	SaleAmount decimal.Decimal `json:"sale_amount"` // as the postback sent it; 0 when it sent none
	// Payout and Revenue are the results, rounded; PayoutLayer and
	// RevenueLayer name the layer that set each.
	Payout       decimal.Decimal `json:"payout"`
	PayoutLayer  Layer           `json:"payout_layer"`
	Revenue      decimal.Decimal `json:"revenue"`
	RevenueLayer Layer           `json:"revenue_layer"`
	// Steps holds one step per layer considered, lowest first: offer_default,
	// partner_tier, custom_payout, postback.
	Steps []Step `json:"steps"`
	// Refunded is set when Reprice computed the amounts after partial
	// refunds: the sale amount above is then what is left of it, and Revenue
	// is the revenue of RevenueLayer less the refunded revenue.
	Refunded *Refunded `json:"refunded,omitempty"`
}

// Refunded is what partial refunds took off a conversion, in total.
type Refunded struct {
	SaleAmount decimal.Decimal `json:"sale_amount"`
	Revenue    decimal.Decimal `json:"revenue"`
	Note       string          `json:"note,omitempty"` // how the refunded revenue was taken off
}

// Step is what one layer did.
type Step struct {
	Layer Layer `json:"layer"`
	// Applied is true when the layer's conditions held and it computed an
	// amount (the offer default always applies). A higher layer may still
	// have replaced that amount: see Calculation.SupersededBy.
	Applied bool `json:"applied"`
	// Reason says why the layer did not apply ("tier inactive", "offer not in
	// tier", "apply margin off", "no revenue: the margin needs a revenue", "no
	// custom setting matches", "the postback sent no revenue"), or adds a note
	// when it did.
	Reason string `json:"reason,omitempty"`

	// Tier is the partner's tier as it applies to this offer (partner_tier
	// step; nil when the partner has none).
	Tier *TierRef `json:"tier,omitempty"`
	// PayoutSetting and RevenueSetting are the custom settings that decided
	// the payout and the revenue (custom_payout step; each nil when no
	// matching setting sets that field; they may be the same setting).
	// CustomSetting is PayoutSetting, or RevenueSetting when no setting sets
	// the payout. Candidates lists every setting for this partner or for
	// all partners with why it won, lost or did not match, field by field.
	CustomSetting  *SettingRef       `json:"custom_setting,omitempty"`
	PayoutSetting  *SettingRef       `json:"payout_setting,omitempty"`
	RevenueSetting *SettingRef       `json:"revenue_setting,omitempty"`
	Candidates     []CustomCandidate `json:"candidates,omitempty"`

	// Revenue and Payout are the amounts this layer computed, nil when it
	// computed none.
	Revenue *Calculation `json:"revenue,omitempty"`
	Payout  *Calculation `json:"payout,omitempty"`
}

// TierRef is the partner's tier as the partner_tier step saw it.
type TierRef struct {
	ID            int64           `json:"id"`
	Name          string          `json:"name"`
	Active        bool            `json:"active"`
	OfferListed   bool            `json:"offer_listed"`
	ApplyMargin   bool            `json:"apply_margin"`
	MarginPercent decimal.Decimal `json:"margin_percent"`
}

// SettingRef is a custom setting that won the conflict order for a field.
type SettingRef struct {
	ID          int64      `json:"id"`
	PartnerID   int64      `json:"partner_id"` // 0 when for all partners
	AllPartners bool       `json:"all_partners"`
	StartsAt    *time.Time `json:"starts_at,omitempty"` // UTC
	EndsAt      *time.Time `json:"ends_at,omitempty"`   // UTC, exclusive
	CreatedAt   time.Time  `json:"created_at"`          // UTC
	SetsPayout  bool       `json:"sets_payout"`
	SetsRevenue bool       `json:"sets_revenue"`
}

// CustomCandidate is one custom setting for this partner or for all partners
// and what became of it: Won when it decided the payout or the revenue, and
// for each field it sets, whether it won it or which setting did and why
// ("won the payout: …; lost the revenue to setting 3: …").
type CustomCandidate struct {
	ID     int64  `json:"id"`
	Won    bool   `json:"won"`
	Reason string `json:"reason"`
}

// Calculation is one amount a layer computed: its inputs, the exact result,
// the rounded amount and the formula that joins them.
type Calculation struct {
	// Type is the rate type (cpa, cps, cpa_cps, prv, rpa, rps, rpa_rps),
	// "margin" for the Partner Tier, or "postback" for the postback revenue.
	Type        string           `json:"type"`
	FixedAmount *decimal.Decimal `json:"fixed_amount,omitempty"` // the fixed part, when the type has one
	// Percent is the percent applied to Base; for the margin it is the
	// partner's share, 100 minus the margin.
	Percent *decimal.Decimal `json:"percent,omitempty"`
	Base    *decimal.Decimal `json:"base,omitempty"`
	// BaseName is "sale_amount" or "revenue"; with "revenue", BaseLayer is the
	// layer that set that revenue.
	BaseName  string `json:"base_name,omitempty"`
	BaseLayer Layer  `json:"base_layer,omitempty"`
	// Exact is the amount before rounding, Amount after rounding to the
	// currency's minor unit (ties away from zero).
	Exact   decimal.Decimal `json:"exact"`
	Amount  decimal.Decimal `json:"amount"`
	Formula string          `json:"formula"` // e.g. "3.00 fixed + 10% × 25.05 sale amount = 5.505, rounded to 5.51"
	Note    string          `json:"note,omitempty"`
	// SupersededBy names the higher layer whose amount replaced this one;
	// empty when this is the conversion's amount.
	SupersededBy Layer `json:"superseded_by,omitempty"`
}

// canonical returns d in the form its JSON string parses back to, so
// explanations survive a JSON round trip unchanged (reflect.DeepEqual).
func canonical(d decimal.Decimal) decimal.Decimal {
	return decimal.RequireFromString(d.String())
}

func canonicalPtr(d decimal.Decimal) *decimal.Decimal {
	c := canonical(d)
	return &c
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
