package store_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
)

// marginTier puts the network's partner in an active tier with a margin of
// 30% on the network's offer.
func (b *testBundle) marginTier(t *testing.T, n network) {
	t.Helper()
	tier, err := b.store.CreateTier(b.ctx, store.TierInput{Name: "Margin 30", Margin: dec("30"), PartnerIDs: []int64{n.partner}})
	require.NoError(t, err)
	_, err = b.store.SetTierOffer(b.ctx, tier.ID, n.offer, store.TierOfferInput{ApplyMargin: true})
	require.NoError(t, err)
}

func (b *testBundle) customPayout(t *testing.T, n network, payout *pricing.PayoutRate, revenue *pricing.RevenueRate) {
	t.Helper()
	_, err := b.store.CreateCustomPayout(b.ctx, store.CustomPayoutInput{OfferID: n.offer, Payout: payout, Revenue: revenue})
	require.NoError(t, err)
}

// layer13Revenue is the conversion's layer 1–3 revenue: its price and
// refund lines.
func (b *testBundle) layer13Revenue(t *testing.T, id int64) decimal.Decimal {
	t.Helper()
	ls, err := b.store.Lines(b.ctx, id)
	require.NoError(t, err)
	sum := decimal.Zero
	for _, l := range ls {
		if l.Kind == store.KindRevenue && (l.Reason == store.ReasonPrice || l.Reason == store.ReasonRefund) {
			sum = sum.Add(l.Amount)
		}
	}
	return sum
}

// problemField returns the field an *store.InvalidError names.
func problemField(t *testing.T, err error) string {
	t.Helper()
	var invalid *store.InvalidError
	require.True(t, errors.As(err, &invalid), "want a problem, got %v", err)
	require.Len(t, invalid.Problems, 1)
	return invalid.Problems[0].Field
}

// TestRefundNeverRaisesPayout: for every payout and revenue type and every
// layer that can decide the payout, random sequences of partial refunds
// never raise the payout nor take it below 0, and a refund beyond what is
// left of the sale amount or of the revenue is a problem naming the field
// that writes nothing (DESIGN §13.13, §14.4).
func TestRefundNeverRaisesPayout(t *testing.T) {
	t.Parallel()
	payouts := map[string]pricing.PayoutRate{
		"CPA": cpa("10"), "CPS": cps("10"), "CPACPS": {Type: pricing.PayoutCPACPS, Amount: dec("2"), Percent: dec("10")},
		"PRV": {Type: pricing.PayoutPRV, Percent: dec("50")},
	}
	revenues := map[string]pricing.RevenueRate{
		"RPA": rpa("20"), "RPS": rps("30"), "RPARPS": {Type: pricing.RevenueRPARPS, Amount: dec("5"), Percent: dec("30")},
	}
	type config struct {
		name            string
		payout          pricing.PayoutRate
		revenue         pricing.RevenueRate
		postbackRevenue string
		layer           func(t *testing.T, b *testBundle, n network)
		override        bool
	}
	var configs []config
	for pn, p := range payouts {
		for rn, r := range revenues {
			configs = append(configs, config{name: "OfferDefault" + pn + rn, payout: p, revenue: r})
		}
		configs = append(configs, config{name: "OfferDefault" + pn + "PostbackRevenue", payout: p, revenue: rpa("20"), postbackRevenue: "25"})
	}
	tier := func(t *testing.T, b *testBundle, n network) { b.marginTier(t, n) }
	for rn, r := range revenues {
		configs = append(configs, config{name: "PartnerTier" + rn, payout: cpa("10"), revenue: r, layer: tier})
	}
	configs = append(configs,
		config{name: "PartnerTierPostbackRevenue", payout: cpa("10"), revenue: rpa("20"), postbackRevenue: "10", layer: tier},
		config{name: "CustomPayout", payout: cpa("10"), revenue: rps("30"), layer: func(t *testing.T, b *testBundle, n network) {
			p := cps("12")
			b.customPayout(t, n, &p, nil)
		}},
		config{name: "CustomRevenueUnderPRV", payout: payouts["PRV"], revenue: rpa("20"), layer: func(t *testing.T, b *testBundle, n network) {
			r := rps("25")
			b.customPayout(t, n, nil, &r)
		}},
		config{name: "TieredPercent", payout: cps("10"), revenue: rps("30"), layer: func(t *testing.T, b *testBundle, n network) {
			b.tieredRule(t, n, tiered.RetroDisabled, band("All", "", "", adjust(tiered.ActionIncrease, tiered.ByPercent, "10"),
				adjust(tiered.ActionDecrease, tiered.ByPercent, "5")))
		}},
		config{name: "TieredFlat", payout: payouts["CPACPS"], revenue: rps("30"), layer: func(t *testing.T, b *testBundle, n network) {
			b.tieredRule(t, n, tiered.RetroDisabled, band("All", "", "", adjust(tiered.ActionIncrease, tiered.ByFlat, "3"), nil))
		}},
		config{name: "TieredSetRate", payout: cps("10"), revenue: rps("30"), layer: func(t *testing.T, b *testBundle, n network) {
			b.tieredRule(t, n, tiered.RetroDisabled, band("All", "", "", adjust(tiered.ActionSet, tiered.RateRevenuePercent, "40"), nil))
		}},
		config{name: "Override", payout: cps("10"), revenue: rps("30"), override: true},
	)

	for i, cfg := range configs {
		t.Run(cfg.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			n := b.network(t, store.OfferEvent{Payout: cfg.payout, Revenue: cfg.revenue})
			if cfg.layer != nil {
				cfg.layer(t, b, n)
			}
			var c store.Conversion
			if cfg.override {
				c = b.valueOutcome(t, n, "100", customervalue.RuleOutcome{Frequency: customervalue.EveryConversion, Trigger: customervalue.TriggerInstant,
					Kind: customervalue.KindOverride, Payout: customervalue.Rate{Type: customervalue.RateRevShare, Percent: dec("15")}})
			} else {
				c = b.convert(t, n, sale{amount: "100", revenue: cfg.postbackRevenue})
			}
			rng := rand.New(rand.NewPCG(uint64(i), 12))
			saleLeft := dec("100")
			for step := range 8 {
				msg := fmt.Sprintf("step %d (seed %d)", step, i)
				revenueLeft := b.layer13Revenue(t, c.ID)
				// A quarter of the steps ask for more than is left.
				if rng.IntN(4) == 0 {
					in := store.RefundInput{SaleAmount: saleLeft.Add(dec("0.01"))}
					want := "sale_amount"
					if rng.IntN(2) == 0 {
						in = store.RefundInput{Revenue: revenueLeft.Add(dec("0.01"))}
						want = "revenue"
					}
					_, _, err := b.store.RefundConversion(b.ctx, c.ID, in)
					require.Equal(t, want, problemField(t, err), msg)
					require.True(t, c.Payout.Equal(b.conversion(t, c.ID).Payout), msg)
					continue
				}
				part := func(left decimal.Decimal) string {
					return left.Mul(decimal.NewFromFloat(rng.Float64())).RoundDown(2).Add(dec("0.01")).StringFixed(2)
				}
				var next store.Conversion
				switch {
				case rng.IntN(2) == 0 && saleLeft.IsPositive():
					amount := part(saleLeft)
					if dec(amount).GreaterThan(saleLeft) {
						amount = saleLeft.String()
					}
					next = b.refund(t, c.ID, amount, "")
					saleLeft = saleLeft.Sub(dec(amount))
				case revenueLeft.IsPositive():
					amount := part(revenueLeft)
					if dec(amount).GreaterThan(revenueLeft) {
						amount = revenueLeft.String()
					}
					next = b.refund(t, c.ID, "", amount)
				default:
					continue
				}
				require.False(t, next.Payout.GreaterThan(c.Payout), "%s: payout rose from %s to %s", msg, c.Payout, next.Payout)
				require.False(t, next.Payout.IsNegative(), msg)
				require.False(t, next.Revenue.IsNegative(), msg)
				require.False(t, next.Revenue.GreaterThan(c.Revenue), "%s: revenue rose from %s to %s", msg, c.Revenue, next.Revenue)
				c = next
			}
		})
	}

	t.Run("MarginOnRevenueRefundedToZeroPaysZero", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := b.network(t, store.OfferEvent{Payout: cpa("10"), Revenue: rpa("20")})
		b.marginTier(t, n)
		c := b.convert(t, n, sale{revenue: "10"})
		requireAmount(t, "7", c.Payout, "70% of the postback's $10")
		c = b.refund(t, c.ID, "", "10")
		requireAmount(t, "0", c.Payout, "not the offer's $10 CPA")
		requireAmount(t, "0", c.Revenue)
		_, _, err := b.store.RefundConversion(b.ctx, c.ID, store.RefundInput{Revenue: dec("0.01")})
		require.Equal(t, "revenue", problemField(t, err), "no revenue is left to refund")
	})

	t.Run("MarginOnRevenueShareWholeSaleRefundedPaysZero", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := b.network(t, store.OfferEvent{Payout: cpa("10"), Revenue: rps("30")})
		b.marginTier(t, n)
		c := b.convert(t, n, sale{amount: "100"})
		requireAmount(t, "30", c.Revenue)
		requireAmount(t, "21", c.Payout)
		c = b.refund(t, c.ID, "100", "")
		requireAmount(t, "0", c.Payout, "not the offer's $10 CPA")
		_, _, err := b.store.RefundConversion(b.ctx, c.ID, store.RefundInput{SaleAmount: dec("0.01")})
		require.Equal(t, "sale_amount", problemField(t, err))
	})
}

// TestRefundEveryPayoutType: a partial refund re-prices each payout type
// under its rate: fixed parts stay, percentages follow the sale amount left
// and the revenue left (DESIGN §13.13).
func TestRefundEveryPayoutType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                         string
		payout                       pricing.PayoutRate
		afterSale, afterSaleRevenue  string // after $40 of the $100 sale is refunded
		afterRevenue, revenueRevenue string // after $5 of revenue more
	}{
		{"CPA", cpa("10"), "10", "18", "10", "13"},
		{"CPS", cps("10"), "6", "18", "6", "13"},
		{"CPACPS", pricing.PayoutRate{Type: pricing.PayoutCPACPS, Amount: dec("1"), Percent: dec("10")}, "7", "18", "7", "13"},
		{"PRV", pricing.PayoutRate{Type: pricing.PayoutPRV, Percent: dec("50")}, "9", "18", "6.5", "13"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			n := b.network(t, store.OfferEvent{Payout: tt.payout, Revenue: rps("30")})
			c := b.convert(t, n, sale{amount: "100"})
			requireAmount(t, "30", c.Revenue)

			c = b.refund(t, c.ID, "40", "")
			requireAmount(t, tt.afterSale, c.Payout)
			requireAmount(t, tt.afterSaleRevenue, c.Revenue)
			c = b.refund(t, c.ID, "", "5")
			requireAmount(t, tt.afterRevenue, c.Payout)
			requireAmount(t, tt.revenueRevenue, c.Revenue)

			totals, err := b.store.RefundTotals(b.ctx, c.ID)
			require.NoError(t, err)
			requireAmount(t, "40", totals.SaleAmount)
			requireAmount(t, "17", totals.Revenue, "12 with the sale, 5 refunded")
			requireAmount(t, dec(map[string]string{"CPA": "10", "CPS": "10", "CPACPS": "11", "PRV": "15"}[tt.name]).Sub(c.Payout).String(), totals.Payout)
		})
	}

	t.Run("RevenueTakenOffBySaleRefund", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := b.network(t, store.OfferEvent{Payout: cpa("0"), Revenue: rpa("0")},
			store.OfferEvent{Event: "deposit", Payout: cpa("5"), Revenue: rps("20"), Repeatable: true})
		c := b.convert(t, n, sale{event: "deposit", amount: "60"})
		requireAmount(t, "12", c.Revenue)
		b.refund(t, c.ID, "10", "")
		totals, err := b.store.RefundTotals(b.ctx, c.ID)
		require.NoError(t, err)
		// What the customer's workflow is told: the end-of-cycle bonus is of
		// the $10 of revenue left.
		require.Equal(t, []string{"10", "2", "0"}, []string{totals.SaleAmount.String(), totals.Revenue.String(), totals.Payout.String()})
	})
}

// TestRefundAfterCustomRetroKeepsRetroAmount: a refund recomputes under the
// adjustment the conversion carries, band b's retroactive one after a custom
// re-pricing, never under band b's own (DESIGN §13.5, §13.11, §13.13).
func TestRefundAfterCustomRetroKeepsRetroAmount(t *testing.T) {
	t.Parallel()

	t.Run("PercentBands", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := b.network(t, store.OfferEvent{Payout: cps("10"), Revenue: rps("30")})
		two := band("Two", "1", "", adjust(tiered.ActionIncrease, tiered.ByPercent, "20"), nil)
		two.RetroPayout = adjust(tiered.ActionIncrease, tiered.ByFlat, "3")
		r := b.tieredRule(t, n, tiered.RetroCustom, band("One", "", "1", adjust(tiered.ActionIncrease, tiered.ByPercent, "10"), nil), two)
		first := b.convert(t, n, sale{amount: "100"})
		requireAmount(t, "11", first.Payout)
		b.convert(t, n, sale{amount: "100"})
		require.Equal(t, 1, b.reprice(t, r, first))
		requireAmount(t, "13", b.conversion(t, first.ID).Payout, "10.00 + the flat 3.00")

		got := b.refund(t, first.ID, "50", "")
		requireAmount(t, "8", got.Payout, "5.00 + the flat 3.00, not 5.00 + 20%")
	})

	t.Run("SetBands", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := b.network(t, store.OfferEvent{Payout: cps("10"), Revenue: rps("30")})
		two := band("Two", "1", "", adjust(tiered.ActionSet, tiered.RateFixed, "0.99"), nil)
		two.RetroPayout = adjust(tiered.ActionIncrease, tiered.ByFlat, "1")
		r := b.tieredRule(t, n, tiered.RetroCustom,
			band("One", "", "1", adjust(tiered.ActionSet, tiered.RateSalePercent, "12.5"), adjust(tiered.ActionIncrease, tiered.ByPercent, "10")), two)
		first := b.convert(t, n, sale{amount: "100"})
		requireAmount(t, "12.5", first.Payout)
		requireAmount(t, "33", first.Revenue)
		b.convert(t, n, sale{amount: "100"})
		require.Equal(t, 1, b.reprice(t, r, first))
		again := b.conversion(t, first.ID)
		requireAmount(t, "11", again.Payout, "10.00 + the retroactive flat 1.00")
		requireAmount(t, "33", again.Revenue, "band two has no retroactive revenue: band one's +10% stays")

		got := b.refund(t, first.ID, "50", "")
		requireAmount(t, "6", got.Payout, "5.00 + 1.00, not band two's 0.99")
		requireAmount(t, "16.5", got.Revenue, "15.00 + band one's 10%")
	})
}

// TestRefundKeepsBand: a refund lowers the period's metrics but not its
// band (DESIGN §13.10): the refunded conversion keeps its band's adjustment
// on its new amounts, and the next conversion is priced at the band.
func TestRefundKeepsBand(t *testing.T) {
	t.Parallel()
	b := setup(t)
	n := b.network(t, store.OfferEvent{Payout: cps("10"), Revenue: rps("30")})
	over := tiered.Band{Name: "Over 100", Bounds: []tiered.Bound{{Metric: tiered.MetricSaleAmount, Min: decPtr("100")}},
		Payout: adjust(tiered.ActionIncrease, tiered.ByPercent, "10")}
	b.tieredRule(t, n, tiered.RetroDisabled, over)
	first := b.convert(t, n, sale{amount: "150"})
	requireAmount(t, "16.5", first.Payout, "15.00 + 10%")

	got := b.refund(t, first.ID, "100", "")
	requireAmount(t, "5.5", got.Payout, "5.00 + 10%: the band stays")
	next := b.convert(t, n, sale{amount: "10"})
	requireAmount(t, "1.1", next.Payout, "priced at the band although the period's sale amount is 60")

	rows, err := b.store.CommissionCycles(b.ctx, store.CycleFilter{PartnerID: n.partner, Limit: 10})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, 0, rows[0].Band)
	requireAmount(t, "60", rows[0].Metrics.SaleAmount)
	require.Equal(t, int64(2), rows[0].Metrics.Conversions, "a refund leaves the count")
}
