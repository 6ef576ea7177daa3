package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/activities"
	"github.com/tierwise/tierwise/internal/pgtest"
	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testBundle is a store on a transaction that is rolled back when the test
// ends (pgtest.Tx), with the ids it created.
type testBundle struct {
	ctx   context.Context
	tx    pgx.Tx
	store *store.Store
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	tx := pgtest.Tx(t)
	return &testBundle{ctx: context.Background(), tx: tx, store: store.New(tx)}
}

// exec runs a statement in a savepoint, so a statement that fails leaves
// the test's transaction usable.
func (b *testBundle) exec(sql string, args ...any) error {
	sp, err := b.tx.Begin(b.ctx)
	if err != nil {
		return err
	}
	if _, err := sp.Exec(b.ctx, sql, args...); err != nil {
		_ = sp.Rollback(b.ctx)
		return err
	}
	return sp.Commit(b.ctx)
}

// keys makes dedupe keys unique across the tests sharing one database.
var keys atomic.Int64

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func decPtr(s string) *decimal.Decimal {
	d := dec(s)
	return &d
}

func cpa(amount string) pricing.PayoutRate {
	return pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec(amount)}
}

func cps(percent string) pricing.PayoutRate {
	return pricing.PayoutRate{Type: pricing.PayoutCPS, Percent: dec(percent)}
}

func rpa(amount string) pricing.RevenueRate {
	return pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: dec(amount)}
}

func rps(percent string) pricing.RevenueRate {
	return pricing.RevenueRate{Type: pricing.RevenueRPS, Percent: dec(percent)}
}

// network is an advertiser, a USD offer and a partner in the default tier.
type network struct {
	advertiser, offer, partner int64
}

// network creates an advertiser, a USD offer of these events and a partner.
func (b *testBundle) network(t *testing.T, events ...store.OfferEvent) network {
	t.Helper()
	adv, _, err := b.store.CreateAdvertiser(b.ctx, store.AdvertiserInput{Name: "Broker"})
	require.NoError(t, err)
	offer, err := b.store.CreateOffer(b.ctx, store.OfferInput{
		AdvertiserID: adv.ID, Name: "Offer", Currency: "USD", DestinationURL: "https://advertiser.example/",
		Events: events,
	})
	require.NoError(t, err)
	return network{advertiser: adv.ID, offer: offer.ID, partner: b.partner(t)}
}

func (b *testBundle) partner(t *testing.T) int64 {
	t.Helper()
	p, err := b.store.CreatePartner(b.ctx, store.PartnerInput{Name: "Partner"})
	require.NoError(t, err)
	return p.ID
}

// sale is a postback to store and price.
type sale struct {
	partner int64  // 0: the network's partner
	event   string // "": the base conversion
	amount  string // the sale amount; "": none
	revenue string // the postback's revenue; "": none
	user    string // "": anonymous
	at      time.Time
	status  string // "": approved
	reason  string // the rejection reason of a rejected one; "": postback
}

// insert stores a conversion without pricing it.
func (b *testBundle) insert(t *testing.T, n network, s sale) store.Conversion {
	t.Helper()
	if s.partner == 0 {
		s.partner = n.partner
	}
	if s.at.IsZero() {
		s.at = time.Date(2026, 11, 4, 12, 0, 0, 0, time.UTC)
	}
	if s.status == "" {
		s.status = store.StatusApproved
	}
	nc := store.NewConversion{
		AdvertiserID: n.advertiser, OfferID: n.offer, PartnerID: s.partner, Event: s.event, UserID: s.user,
		DedupeKey: fmt.Sprintf("store-test:%d", keys.Add(1)), Currency: "USD", Status: s.status, OccurredAt: s.at,
		WorkflowID: "store-test",
	}
	if s.status == store.StatusRejected {
		nc.RejectionReason = store.RejectPostback
		if s.reason != "" {
			nc.RejectionReason = s.reason
		}
	}
	if s.amount != "" {
		nc.SaleAmount = dec(s.amount)
	}
	if s.revenue != "" {
		nc.PostbackRevenue = decimal.NewNullDecimal(dec(s.revenue))
	}
	c, dup, err := b.store.InsertConversion(b.ctx, nc)
	require.NoError(t, err)
	require.False(t, dup)
	return c
}

// convert stores a conversion and prices it as the pricing activity does.
func (b *testBundle) convert(t *testing.T, n network, s sale) store.Conversion {
	t.Helper()
	return b.price(t, b.insert(t, n, s).ID)
}

func (b *testBundle) price(t *testing.T, id int64) store.Conversion {
	t.Helper()
	c, priced, _, err := b.store.PriceConversion(b.ctx, id, activities.Price)
	require.NoError(t, err)
	require.True(t, priced, "conversion %d", id)
	return c
}

func (b *testBundle) conversion(t *testing.T, id int64) store.Conversion {
	t.Helper()
	c, err := b.store.Conversion(b.ctx, id)
	require.NoError(t, err)
	return c
}

func (b *testBundle) refund(t *testing.T, id int64, saleAmount, revenue string) store.Conversion {
	t.Helper()
	in := store.RefundInput{SaleAmount: decimal.Zero, Revenue: decimal.Zero}
	if saleAmount != "" {
		in.SaleAmount = dec(saleAmount)
	}
	if revenue != "" {
		in.Revenue = dec(revenue)
	}
	c, _, err := b.store.RefundConversion(b.ctx, id, in)
	require.NoError(t, err)
	return c
}

// lines sums a conversion's lines of one kind per reason.
func (b *testBundle) lines(t *testing.T, id int64, kind string) map[string]string {
	t.Helper()
	ls, err := b.store.Lines(b.ctx, id)
	require.NoError(t, err)
	sums := map[string]decimal.Decimal{}
	for _, l := range ls {
		if l.Kind == kind {
			sums[l.Reason] = sums[l.Reason].Add(l.Amount)
		}
	}
	out := map[string]string{}
	for r, s := range sums {
		out[r] = s.StringFixed(2)
	}
	return out
}

// tieredRule stores an active tiered rule on the network's offer, for all
// partners, monthly from 2026-01-01, over base conversions.
func (b *testBundle) tieredRule(t *testing.T, n network, mode tiered.RetroMode, bands ...tiered.Band) tiered.Rule {
	t.Helper()
	r, err := b.store.CreateTieredRule(b.ctx, tiered.Rule{
		Name: "Volume", Active: true, OfferIDs: []int64{n.offer}, AppliesTo: tiered.AppliesToBase,
		StartDate: "2026-01-01", Period: tiered.PeriodMonthly, Retro: mode, Bands: bands,
	})
	require.NoError(t, err)
	return r
}

// reprice runs the retroactive re-pricing of the cycle of conversion c, all
// of it, as the RepriceCycle activity does, and returns how many
// conversions got new lines.
func (b *testBundle) reprice(t *testing.T, r tiered.Rule, c store.Conversion) int {
	t.Helper()
	cur := b.conversion(t, c.ID)
	key := store.CycleKey{RuleID: r.ID, PartnerID: cur.PartnerID, OfferID: cur.OfferID, PeriodStart: cycleStart(t, b, cur)}
	repriced := 0
	var after int64
	for {
		chunk, err := b.store.RepriceCycleChunk(b.ctx, key, after, 500, func(band int, cs []tiered.Priced) []tiered.Delta {
			return tiered.Reprice(r, band, cs)
		})
		require.NoError(t, err)
		repriced += chunk.Repriced
		if chunk.LastID == 0 {
			return repriced
		}
		after = chunk.LastID
	}
}

// cycleStart is the period start the conversion was priced in.
func cycleStart(t *testing.T, b *testBundle, c store.Conversion) time.Time {
	t.Helper()
	rows, err := b.store.CommissionCycles(b.ctx, store.CycleFilter{PartnerID: c.PartnerID, OfferID: c.OfferID, Limit: 100})
	require.NoError(t, err)
	for _, r := range rows {
		if !c.OccurredAt.Before(r.PeriodStart) && (r.PeriodEnd == nil || c.OccurredAt.Before(*r.PeriodEnd)) {
			return r.PeriodStart
		}
	}
	t.Fatalf("no commission cycle holds conversion %d", c.ID)
	return time.Time{}
}

// band is a band on the conversions count, (min, max] ("" for none).
func band(name, minimum, maximum string, payout, revenue *tiered.Adjustment) tiered.Band {
	bound := tiered.Bound{Metric: tiered.MetricConversions}
	if minimum != "" {
		bound.Min = decPtr(minimum)
	}
	if maximum != "" {
		bound.Max = decPtr(maximum)
	}
	return tiered.Band{Name: name, Bounds: []tiered.Bound{bound}, Payout: payout, Revenue: revenue}
}

func adjust(action, by, value string) *tiered.Adjustment {
	a := &tiered.Adjustment{Action: action, Value: dec(value)}
	if action == tiered.ActionSet {
		a.Rate = by
	} else {
		a.By = by
	}
	return a
}

func requireAmount(t *testing.T, want string, got decimal.Decimal, msgAndArgs ...any) {
	t.Helper()
	require.Truef(t, dec(want).Equal(got), "want %s, got %s %v", want, got, msgAndArgs)
}
