package pricing

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Tier is the partner's Partner Tier as it applies to the conversion's offer.
type Tier struct {
	ID          int64           `json:"id"`
	Name        string          `json:"name"`
	Active      bool            `json:"active"`
	Margin      decimal.Decimal `json:"margin"`       // percent, 30 means 30%; 0–100
	OfferListed bool            `json:"offer_listed"` // the tier lists this conversion's offer
	ApplyMargin bool            `json:"apply_margin"` // that listing has "apply margin" on
}

// Input is everything Price needs to price one conversion.
type Input struct {
	PartnerID int64     `json:"partner_id"`
	At        time.Time `json:"at"`       // the conversion's own timestamp
	Currency  string    `json:"currency"` // ISO 4217 code; its minor unit comes from MinorUnits
	// SaleAmount is the postback's sale amount, zero when it sent none.
	SaleAmount decimal.Decimal `json:"sale_amount"`
	// PostbackRevenue is the postback's revenue parameter, nil when absent.
	PostbackRevenue *decimal.Decimal `json:"postback_revenue,omitempty"`
	// DefaultPayout and DefaultRevenue are the offer's defaults for this
	// event (the base conversion or a named event).
	DefaultPayout  PayoutRate  `json:"default_payout"`
	DefaultRevenue RevenueRate `json:"default_revenue"`
	// Tier is the partner's tier as it applies to this offer; nil for none.
	Tier *Tier `json:"tier,omitempty"`
	// Custom holds the candidate custom settings, already filtered by offer
	// and event; Price filters them by partner and date and picks the winner.
	Custom []CustomSetting `json:"custom,omitempty"`
}

// Result is the layer 1–3 payout and revenue of one conversion.
type Result struct {
	Payout      decimal.Decimal `json:"payout"`  // rounded to the currency's minor unit
	Revenue     decimal.Decimal `json:"revenue"` // rounded to the currency's minor unit
	Explanation Explanation     `json:"explanation"`
}

// Price computes the payout and revenue of one conversion through layers 1–3
// (offer default, Partner Tier margin, custom payout setting) and explains
// them. It returns an error, matching ErrInvalidInput and naming every bad
// field, when the input is invalid; otherwise it always succeeds.
func Price(in Input) (Result, error) {
	return price(in, nil)
}

// decided is what Reprice keeps of a conversion's pricing: the layers that
// set its payout and its revenue (DESIGN §13.5, §14.4), and the revenue
// refunded so far, taken off the revenue of its layer.
type decided struct {
	payout, revenue Layer
	refundedSale    decimal.Decimal
	refundedRevenue decimal.Decimal
}

// price prices in; with d, each amount comes from the layer d names rather
// than from the highest layer that applies now.
func price(in Input, d *decided) (Result, error) {
	w := resolveCustom(in.Custom, in.PartnerID, in.At)
	if errs := in.problems(w); len(errs) > 0 {
		return Result{}, fmt.Errorf("price: %w", errors.Join(errs...))
	}
	p := pricer{in: &in, units: MinorUnits(in.Currency)}
	var payoutSetting, revenueSetting *CustomSetting
	if w.payout >= 0 {
		payoutSetting = &in.Custom[w.payout]
	}
	if w.revenue >= 0 {
		revenueSetting = &in.Custom[w.revenue]
	}

	offerDefault := Step{Layer: LayerOfferDefault, Applied: true}
	customStep := p.customStep(w)
	postback := Step{Layer: LayerPostback}

	// The revenue first: the margin and PRV are computed on it.
	offerDefault.Revenue = p.revenue(in.DefaultRevenue)
	revenue, revenueLayer := offerDefault.Revenue, LayerOfferDefault
	if revenueSetting != nil {
		customStep.Revenue = p.revenue(*revenueSetting.Revenue)
		revenue, revenueLayer = customStep.Revenue, LayerCustomPayout
	}
	if in.PostbackRevenue != nil {
		postback.Applied = true
		postback.Revenue = p.postbackRevenue(*in.PostbackRevenue)
		revenue, revenueLayer = postback.Revenue, LayerPostback
	} else {
		postback.Reason = "the postback sent no revenue"
	}
	if d != nil {
		for _, s := range []*Step{&offerDefault, &customStep, &postback} {
			if s.Layer == d.revenue && s.Revenue != nil {
				revenue, revenueLayer = s.Revenue, s.Layer
			}
		}
	}
	revenueAmount := revenue.Amount
	var refunded *Refunded
	if d != nil {
		refunded = &Refunded{SaleAmount: canonical(d.refundedSale), Revenue: canonical(d.refundedRevenue)}
		if d.refundedRevenue.IsPositive() {
			revenueAmount = decimal.Max(decimal.Zero, revenueAmount.Sub(d.refundedRevenue))
			refunded.Note = p.money(revenue.Amount) + " revenue (from " + string(revenueLayer) + ") − " +
				p.money(d.refundedRevenue) + " refunded = " + revenueAmount.StringFixed(p.units)
		}
	}

	// Then the payout, bottom to top.
	offerDefault.Payout = p.payout(in.DefaultPayout, revenueAmount, revenueLayer)
	payout, payoutLayer := offerDefault.Payout, LayerOfferDefault
	tier := p.tierStep(revenueAmount, revenueLayer, d != nil && d.payout == LayerPartnerTier)
	if tier.Applied {
		payout, payoutLayer = tier.Payout, LayerPartnerTier
	}
	if payoutSetting != nil {
		customStep.Payout = p.payout(*payoutSetting.Payout, revenueAmount, revenueLayer)
		payout, payoutLayer = customStep.Payout, LayerCustomPayout
	} else if customStep.Applied {
		customStep.Reason = "no matching setting sets the payout; it stays from the " + string(payoutLayer) + " layer, computed on that revenue"
	}
	if d != nil {
		for _, s := range []*Step{&offerDefault, &tier, &customStep} {
			if s.Layer == d.payout && s.Payout != nil {
				payout, payoutLayer = s.Payout, s.Layer
			}
		}
	}

	steps := []Step{offerDefault, tier, customStep, postback}
	for i := range steps {
		if c := steps[i].Revenue; c != nil && c != revenue {
			c.SupersededBy = revenueLayer
		}
		if c := steps[i].Payout; c != nil && c != payout {
			c.SupersededBy = payoutLayer
		}
	}
	return Result{
		Payout:  payout.Amount,
		Revenue: canonical(revenueAmount),
		Explanation: Explanation{
			Currency:     strings.ToUpper(in.Currency),
			MinorUnits:   p.units,
			SaleAmount:   canonical(in.SaleAmount),
			Payout:       payout.Amount,
			PayoutLayer:  payoutLayer,
			Revenue:      canonical(revenueAmount),
			RevenueLayer: revenueLayer,
			Steps:        steps,
			Refunded:     refunded,
		},
	}, nil
}

// problems returns every problem with the input, w being the custom
// settings that decide the payout and the revenue: only the rates that win
// are checked.
func (in *Input) problems(w winners) []error {
	var errs []error
	if !validCurrency(in.Currency) {
		errs = append(errs, fieldError("Currency", quote(in.Currency)+" is not a three-letter ISO 4217 code"))
	}
	if in.SaleAmount.IsNegative() {
		errs = append(errs, fieldError("SaleAmount", in.SaleAmount.String()+" is negative"))
	}
	if in.PostbackRevenue != nil && in.PostbackRevenue.IsNegative() {
		errs = append(errs, fieldError("PostbackRevenue", in.PostbackRevenue.String()+" is negative"))
	}
	errs = append(errs, in.DefaultPayout.problems("DefaultPayout.")...)
	errs = append(errs, in.DefaultRevenue.problems("DefaultRevenue.")...)
	if t := in.Tier; t != nil && (t.Margin.IsNegative() || t.Margin.GreaterThan(hundred)) {
		errs = append(errs, fieldError("Tier.Margin", t.Margin.String()+" is outside 0–100 (tier "+strconv.FormatInt(t.ID, 10)+")"))
	}
	if w.payout >= 0 {
		s := &in.Custom[w.payout]
		errs = append(errs, s.Payout.problems("Custom[id="+strconv.FormatInt(s.ID, 10)+"].Payout.")...)
	}
	if w.revenue >= 0 {
		s := &in.Custom[w.revenue]
		errs = append(errs, s.Revenue.problems("Custom[id="+strconv.FormatInt(s.ID, 10)+"].Revenue.")...)
	}
	return errs
}

var hundred = decimal.NewFromInt(100)

// pricer computes and explains the amounts of one conversion.
type pricer struct {
	in    *Input
	units int32
}

func (p *pricer) revenue(r RevenueRate) *Calculation {
	fixed, percent, _ := r.Type.parts()
	return p.rate(string(r.Type), fixed, percent, r.Amount, r.Percent, p.in.SaleAmount, "sale_amount", "")
}

func (p *pricer) payout(r PayoutRate, revenue decimal.Decimal, revenueLayer Layer) *Calculation {
	fixed, percent, _ := r.Type.parts()
	if r.Type == PayoutPRV {
		return p.rate(string(r.Type), fixed, percent, r.Amount, r.Percent, revenue, "revenue", revenueLayer)
	}
	return p.rate(string(r.Type), fixed, percent, r.Amount, r.Percent, p.in.SaleAmount, "sale_amount", "")
}

// rate computes a fixed part (when fixed) plus percent × base / 100 (when
// percent), rounded.
func (p *pricer) rate(typ string, fixed, percent bool, amount, pct, base decimal.Decimal, baseName string, baseLayer Layer) *Calculation {
	c := &Calculation{Type: typ}
	var exact decimal.Decimal
	var f strings.Builder
	if fixed {
		c.FixedAmount = canonicalPtr(amount)
		exact = amount
		f.WriteString(p.money(amount))
		f.WriteString(" fixed")
	}
	if percent {
		c.Percent = canonicalPtr(pct)
		c.Base = canonicalPtr(base)
		c.BaseName = baseName
		c.BaseLayer = baseLayer
		exact = exact.Add(pct.Mul(base).Shift(-2))
		if fixed {
			f.WriteString(" + ")
		}
		f.WriteString(pct.String())
		f.WriteString("% × ")
		f.WriteString(p.money(base))
		if baseName == "revenue" {
			f.WriteString(" revenue (from " + string(baseLayer) + ")")
			if base.IsZero() {
				c.Note = "there is no revenue, so the percent of revenue pays 0"
			}
		} else {
			f.WriteString(" sale amount")
			if base.IsZero() {
				c.Note = "the postback sent no sale amount, so the percent part is 0"
			}
		}
	}
	p.finish(c, exact, &f)
	return c
}

func (p *pricer) postbackRevenue(revenue decimal.Decimal) *Calculation {
	c := &Calculation{Type: "postback"}
	var f strings.Builder
	f.WriteString(p.money(revenue))
	f.WriteString(" sent by the postback")
	p.finish(c, revenue, &f)
	return c
}

// finish rounds exact into c and ends the formula with the result.
func (p *pricer) finish(c *Calculation, exact decimal.Decimal, f *strings.Builder) {
	amount := exact.Round(p.units)
	c.Exact = canonical(exact)
	c.Amount = canonical(amount)
	f.WriteString(" = ")
	if !exact.Equal(amount) {
		f.WriteString(exact.String())
		f.WriteString(", rounded to ")
	}
	f.WriteString(amount.StringFixed(p.units))
	c.Formula = f.String()
}

// money formats an amount with at least the currency's decimals, and more
// only when it has more (a sale amount is used as sent).
func (p *pricer) money(d decimal.Decimal) string {
	n := d.Normalize()
	if -n.Exponent() <= p.units {
		return n.StringFixed(p.units)
	}
	return n.String()
}

// tierStep computes the Partner Tier margin on the revenue. keep is set when
// re-pricing a conversion whose payout this layer decided: a margin on no
// revenue then pays 0 rather than handing the payout back to a lower layer.
func (p *pricer) tierStep(revenue decimal.Decimal, revenueLayer Layer, keep bool) Step {
	s := Step{Layer: LayerPartnerTier}
	t := p.in.Tier
	if t == nil {
		s.Reason = "the partner has no tier"
		return s
	}
	s.Tier = &TierRef{
		ID:            t.ID,
		Name:          t.Name,
		Active:        t.Active,
		OfferListed:   t.OfferListed,
		ApplyMargin:   t.ApplyMargin,
		MarginPercent: canonical(t.Margin),
	}
	switch {
	case !t.Active:
		s.Reason = "tier inactive"
	case !t.OfferListed:
		s.Reason = "offer not in tier"
	case !t.ApplyMargin:
		s.Reason = "apply margin off"
	case revenue.IsZero() && !keep:
		s.Reason = "no revenue: the margin needs a revenue"
	default:
		s.Applied = true
		share := hundred.Sub(t.Margin)
		c := &Calculation{
			Type:      "margin",
			Percent:   canonicalPtr(share),
			Base:      canonicalPtr(revenue),
			BaseName:  "revenue",
			BaseLayer: revenueLayer,
		}
		var f strings.Builder
		f.WriteString("(100% − ")
		f.WriteString(t.Margin.String())
		f.WriteString("% margin) × ")
		f.WriteString(p.money(revenue))
		f.WriteString(" revenue (from " + string(revenueLayer) + ")")
		p.finish(c, share.Mul(revenue).Shift(-2), &f)
		if revenue.IsZero() {
			c.Note = "no revenue is left after the refunds, so the margin pays 0: the layer decided when the conversion was priced stays"
		}
		s.Payout = c
	}
	return s
}

// customStep explains the custom settings; the caller adds the amounts.
func (p *pricer) customStep(w winners) Step {
	s := Step{Layer: LayerCustomPayout}
	s.Candidates = customCandidates(p.in.Custom, w, p.in.PartnerID, p.in.At)
	if !w.any() {
		s.Reason = "no custom setting matches"
		return s
	}
	s.Applied = true
	if w.payout >= 0 {
		s.PayoutSetting = settingRef(&p.in.Custom[w.payout])
	}
	if w.revenue >= 0 {
		s.RevenueSetting = settingRef(&p.in.Custom[w.revenue])
	}
	s.CustomSetting = s.PayoutSetting
	if s.CustomSetting == nil {
		s.CustomSetting = s.RevenueSetting
	}
	return s
}

func settingRef(c *CustomSetting) *SettingRef {
	return &SettingRef{
		ID:          c.ID,
		PartnerID:   c.PartnerID,
		AllPartners: c.PartnerID == 0,
		StartsAt:    utcPtr(c.StartsAt),
		EndsAt:      utcPtr(c.EndsAt),
		CreatedAt:   c.CreatedAt.UTC(),
		SetsPayout:  c.Payout != nil,
		SetsRevenue: c.Revenue != nil,
	}
}
