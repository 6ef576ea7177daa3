package reports_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/activities"
	"github.com/tierwise/tierwise/internal/pgtest"
	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/reports"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestMoney(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ amount, currency, want string }{
		{"0.7", "USD", "$0.70"},
		{"1234567.5", "USD", "$1,234,567.50"},
		{"-0.3", "EUR", "−€0.30"},
		{"25.055", "USD", "$25.055"},
		{"1500", "JPY", "¥1,500"},
		{"12", "KWD", "12.000 KWD"},
		{"0", "USD", "$0.00"},
	} {
		require.Equal(t, c.want, reports.Money(dec(c.amount), c.currency), c.amount+" "+c.currency)
	}
	require.Equal(t, "+$0.20", reports.SignedMoney(dec("0.2"), "USD"))
	require.Equal(t, "−$0.20", reports.SignedMoney(dec("-0.2"), "USD"))
}

func TestNeutralise(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`=HYPERLINK("http://evil.example")`: `'=HYPERLINK("http://evil.example")`,
		"+1 555 0100":                       "'+1 555 0100",
		"-2+3":                              "'-2+3",
		"@SUM(A1)":                          "'@SUM(A1)",
		"\tcmd":                             "'\tcmd",
		"-0.70":                             "-0.70",
		"12":                                "12",
		"player-7":                          "player-7",
		"":                                  "",
	} {
		require.Equal(t, want, reports.Neutralise(in), in)
	}
	var buf bytes.Buffer
	w := reports.NewCSVWriter(&buf)
	require.NoError(t, w.Write([]string{"=1+1", "-1.5"}))
	require.NoError(t, w.Flush())
	rows, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Equal(t, [][]string{{"'=1+1", "-1.5"}}, rows)
}

func TestParseConversionFilter(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)

	t.Run("DaysInTheNetworkZone", func(t *testing.T) {
		f, err := reports.ParseConversionFilter(url.Values{"from": {"2026-03-01"}, "to": {"2026-03-31"}, "tiered_rule_id": {"4"},
			"customer_value_rule_id": {"5"}, "rejection_reason": {"partner_inactive"}, "status": {"rejected"}}, berlin)
		require.NoError(t, err)
		require.Equal(t, time.Date(2026, 3, 1, 0, 0, 0, 0, berlin), f.From)
		require.Equal(t, time.Date(2026, 4, 1, 0, 0, 0, 0, berlin), f.To, "to is inclusive")
		require.Equal(t, int64(4), f.TieredRuleID)
		require.Equal(t, int64(5), f.ValueRuleID)
		require.Equal(t, store.RejectPartnerInactive, f.RejectionReason)
	})
	t.Run("EveryProblemNamed", func(t *testing.T) {
		_, err := reports.ParseConversionFilter(url.Values{"from": {"soon"}, "partner_id": {"-1"}, "status": {"lost"},
			"rejection_reason": {"bored"}, "user_id": {"a\x00b"}}, time.UTC)
		var invalid *store.InvalidError
		require.ErrorAs(t, err, &invalid)
		var fields []string
		for _, p := range invalid.Problems {
			fields = append(fields, p.Field)
		}
		require.ElementsMatch(t, []string{"from", "partner_id", "status", "rejection_reason", "user_id"}, fields)
	})
	t.Run("ToBeforeFrom", func(t *testing.T) {
		_, err := reports.ParseConversionFilter(url.Values{"from": {"2026-03-02"}, "to": {"2026-03-01"}}, time.UTC)
		require.ErrorContains(t, err, "to: must not be before from")
	})
}

func TestCycleCursor(t *testing.T) {
	t.Parallel()
	key := store.CycleKey{RuleID: 3, PartnerID: 5, OfferID: 8, PeriodStart: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}
	got, err := reports.ParseCycleCursor(reports.CycleCursor(key))
	require.NoError(t, err)
	require.Equal(t, key, got)
	for _, bad := range []string{"", "1.2.3", "x.1.2.3", "1.0.2.3", "1.2.3.4.5"} {
		_, err := reports.ParseCycleCursor(bad)
		require.ErrorContains(t, err, "after", bad)
	}
}

// testBundle is a store on a rolled-back transaction and its reports.
type testBundle struct {
	store   *store.Store
	reports *reports.Service
	offer   store.Offer
	adv     store.Advertiser
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	st := store.New(pgtest.Tx(t))
	ctx := context.Background()
	adv, _, err := st.CreateAdvertiser(ctx, store.AdvertiserInput{Name: "Acme"})
	require.NoError(t, err)
	offer, err := st.CreateOffer(ctx, store.OfferInput{AdvertiserID: adv.ID, Name: "Sign-up", Currency: "USD", DestinationURL: "https://acme.example/",
		Events: []store.OfferEvent{{Payout: pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec("10")},
			Revenue: pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: dec("15")}}}})
	require.NoError(t, err)
	return &testBundle{store: st, reports: reports.New(st, nil), offer: offer, adv: adv}
}

// convert stores and prices an approved conversion of partner.
func (b *testBundle) convert(t *testing.T, partner int64, key, user string) store.Conversion {
	t.Helper()
	ctx := context.Background()
	wf := "anonymous"
	if user != "" {
		wf = "customer/x/" + user
	}
	c, _, err := b.store.InsertConversion(ctx, store.NewConversion{AdvertiserID: b.adv.ID, OfferID: b.offer.ID, PartnerID: partner, UserID: user,
		DedupeKey: key, Currency: "USD", Status: store.StatusApproved, OccurredAt: time.Now().Add(-time.Minute), WorkflowID: wf})
	require.NoError(t, err)
	c, _, _, err = b.store.PriceConversion(ctx, c.ID, priceWithoutRules)
	require.NoError(t, err)
	return c
}

func TestCommissionCyclesPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.store.CreateTieredRule(ctx, tiered.Rule{Name: "Volume", Active: true, OfferIDs: []int64{b.offer.ID}, AppliesTo: tiered.AppliesToBase,
		StartDate: "2020-01-01", Period: tiered.PeriodMonthly, Bands: []tiered.Band{
			{Name: "Start", Bounds: []tiered.Bound{{Metric: tiered.MetricConversions, Min: ptr(dec("0")), Max: ptr(dec("2"))}}},
			{Name: "Gold", Bounds: []tiered.Bound{{Metric: tiered.MetricConversions, Min: ptr(dec("2"))}},
				Payout: &tiered.Adjustment{Action: tiered.ActionIncrease, By: tiered.ByPercent, Value: dec("10")}},
		}})
	require.NoError(t, err)
	var partners []int64
	for i := range 5 {
		p, err := b.store.CreatePartner(ctx, store.PartnerInput{Name: "P"})
		require.NoError(t, err)
		partners = append(partners, p.ID)
		b.convert(t, p.ID, "k"+string(rune('a'+i)), "")
	}

	var seen []int64
	after := ""
	for range 3 {
		page, err := b.reports.CommissionCycles(ctx, reports.CycleFilter{After: after, Limit: 2})
		require.NoError(t, err)
		for _, row := range page.Rows {
			seen = append(seen, row.PartnerID)
			require.Equal(t, "Start", row.BandName)
			require.NotNil(t, row.NextBand)
			require.Equal(t, "Gold", row.NextBand.Name)
			d := row.NextBand.Needs[0]
			require.Equal(t, "1", d.Value.String())
			require.Equal(t, "0", d.From.String(), "the bar starts at the current band's lower bound")
			require.Equal(t, "2", d.MustExceed.String())
			require.Equal(t, "1", d.StillToExceed.String())
		}
		after = page.NextCursor
		if after == "" {
			break
		}
	}
	require.Equal(t, partners, seen, "every cycle once, across the pages, none cut")
	require.Empty(t, after, "the last page says so")
}

func TestCustomerEventsReadsLinesAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	p, err := b.store.CreatePartner(ctx, store.PartnerInput{Name: "P"})
	require.NoError(t, err)
	c1 := b.convert(t, p.ID, "e1", "u-1")
	c2 := b.convert(t, p.ID, "e2", "u-1")
	b.convert(t, p.ID, "e3", "someone-else")

	rep, err := b.reports.CustomerEvents(ctx, b.adv.ID, "u-1", time.Now())
	require.NoError(t, err)
	require.Len(t, rep.Conversions, 2)
	require.Equal(t, []int64{c1.ID, c2.ID}, []int64{rep.Conversions[0].ID, rep.Conversions[1].ID})
	for _, c := range rep.Conversions {
		require.Len(t, c.Lines, 2, "payout and revenue lines of conversion %d", c.ID)
		for _, l := range c.Lines {
			require.Equal(t, c.ID, l.ConversionID)
		}
	}
	raw, err := json.Marshal(rep)
	require.NoError(t, err)
	require.Contains(t, string(raw), `"workflow_id":"customer/`, "the API's JSON shape")
	require.NotContains(t, string(raw), `"Rules"`)

	_, err = b.reports.CustomerEvents(ctx, b.adv.ID, "nobody", time.Now())
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestExplainTieredAndRefund(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	p, err := b.store.CreatePartner(ctx, store.PartnerInput{Name: "P"})
	require.NoError(t, err)
	_, err = b.store.CreateTieredRule(ctx, tiered.Rule{Name: "Always 10%", Active: true, OfferIDs: []int64{b.offer.ID}, AppliesTo: tiered.AppliesToBase,
		StartDate: "2020-01-01", Period: tiered.PeriodGlobal, Bands: []tiered.Band{{Name: "All", Bounds: []tiered.Bound{{Metric: tiered.MetricConversions}},
			Payout: &tiered.Adjustment{Action: tiered.ActionIncrease, By: tiered.ByPercent, Value: dec("10")}}}})
	require.NoError(t, err)
	c := b.convert(t, p.ID, "x1", "")
	require.Equal(t, "11", c.Payout.String())

	d, err := b.reports.Conversion(ctx, c.ID)
	require.NoError(t, err)
	e := d.Explanation
	require.Equal(t, "Pays $11.00, set by the offer default and adjusted by the Tiered Commission. Earns the network $15.00 (margin $4.00).", e.Summary)
	require.Len(t, e.Layers, 6, "layers 1–5 and the postback's revenue")
	tl := e.Layers[4]
	require.Equal(t, 4, tl.Number)
	require.Equal(t, []string{"payout"}, tl.Adjusted)
	require.Contains(t, tl.Source, `Rule "Always 10%"`)
	require.Contains(t, tl.Amounts[0].Formula, "10% increase of 10.00 payout = 11.00")
	require.Equal(t, []string{"payout", "revenue"}, e.Layers[0].Decided)
	require.Empty(t, d.Pending)
	require.Equal(t, "11", e.Unpaid.String())
	require.True(t, e.Paid.IsZero())
	require.Empty(t, e.Changes)
}

func ptr[T any](v T) *T { return &v }

// priceWithoutRules prices a conversion as the pricing activity does when no
// Customer Value rule is active: its amounts are final once priced.
func priceWithoutRules(ctx context.Context, p *store.PricingTx) (store.Priced, error) {
	pr, err := activities.Price(ctx, p)
	pr.ValueEvaluated = true
	return pr, err
}
