package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
)

// TestZeroPayoutLineIsNeverPaid: a payout run takes only non-zero lines, so
// a $0.00 line never makes its conversion paid and a later band still
// re-prices it (DESIGN §14.14).
func TestZeroPayoutLineIsNeverPaid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	n := b.network(t, store.OfferEvent{Payout: cps("7.5"), Revenue: rpa("20")})
	r := b.tieredRule(t, n, tiered.RetroEnabled, band("Second on", "1", "",
		adjust(tiered.ActionSet, tiered.RateRevenuePercent, "12.5"), adjust(tiered.ActionIncrease, tiered.ByPercent, "10")))
	first := b.convert(t, n, sale{}) // no sale amount: 7.5% of nothing
	requireAmount(t, "0", first.Payout)
	requireAmount(t, "20", first.Revenue)

	run, err := b.store.CreatePayoutRun(b.ctx, &n.partner, "2026-11-30")
	require.NoError(t, err)
	require.Equal(t, 0, run.LineCount, "the $0.00 line is not taken")
	requireAmount(t, "0", run.Total)

	b.convert(t, n, sale{})
	require.Equal(t, 1, b.reprice(t, r, first), "the first conversion is not paid, so it is re-banded")
	got := b.conversion(t, first.ID)
	requireAmount(t, "2.5", got.Payout, "12.5% of the $20 revenue")
	requireAmount(t, "22", got.Revenue, "with the band's +10% revenue")

	run, err = b.store.CreatePayoutRun(b.ctx, &n.partner, "2026-11-30")
	require.NoError(t, err)
	require.Equal(t, 2, run.LineCount, "the first's retro line and the second's tiered line; never a zero line")
	requireAmount(t, "5", run.Total)
}

// TestPayoutRunCutoffAcrossDST: a run's cutoff day ends at 23:59:59.999999
// in the network's time zone, on the days Europe/Berlin changes its clocks
// too (DESIGN §13.12, §13.18).
func TestPayoutRunCutoffAcrossDST(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	for _, tt := range []struct {
		name   string
		cutoff string
		day    time.Time // the cutoff day's 23:59:59.999999 local
	}{
		{"SpringForward", "2026-03-29", time.Date(2026, 3, 29, 23, 59, 59, 999999000, berlin)}, // a 23-hour day
		{"FallBack", "2026-10-25", time.Date(2026, 10, 25, 23, 59, 59, 999999000, berlin)},     // a 25-hour day
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			require.NoError(t, b.exec(`UPDATE network SET time_zone = 'Europe/Berlin'`))
			n := b.network(t, store.OfferEvent{Payout: cpa("10"), Revenue: rpa("20")})
			last := b.convert(t, n, sale{at: tt.day})
			next := b.convert(t, n, sale{at: tt.day.Add(time.Microsecond)}) // 00:00 the next local day
			early := b.convert(t, n, sale{at: time.Date(tt.day.Year(), tt.day.Month(), tt.day.Day(), 0, 0, 0, 0, berlin)})

			run, err := b.store.CreatePayoutRun(b.ctx, &n.partner, tt.cutoff)
			require.NoError(t, err)
			require.Equal(t, 2, run.LineCount)
			requireAmount(t, "20", run.Total)
			paid := func(id int64) bool {
				ls, err := b.store.Lines(b.ctx, id)
				require.NoError(t, err)
				return ls[0].PayoutRunID != nil
			}
			require.True(t, paid(last.ID), "23:59:59.999999 on the cutoff day is in the run")
			require.True(t, paid(early.ID), "the first instant of the cutoff day is in the run")
			require.False(t, paid(next.ID), "00:00 the next day is not")
		})
	}
}

// TestRepriceChunkBoundary: a period of 501 conversions is re-priced in a
// chunk of 500 and one of 1, and a second run writes nothing.
func TestRepriceChunkBoundary(t *testing.T) {
	t.Parallel()
	b := setup(t)
	n := b.network(t, store.OfferEvent{Payout: cpa("10"), Revenue: rpa("20")})
	r := b.tieredRule(t, n, tiered.RetroEnabled, band("Over 501", "501", "", adjust(tiered.ActionIncrease, tiered.ByFlat, "1"), nil))
	var ids []int64
	for range 501 {
		ids = append(ids, b.convert(t, n, sale{}).ID)
	}
	last := b.convert(t, n, sale{}) // the 502nd reaches the band
	requireAmount(t, "11", last.Payout)
	key := store.CycleKey{RuleID: r.ID, PartnerID: n.partner, OfferID: n.offer, PeriodStart: cycleStart(t, b, last)}
	chunk := func(after int64) store.RepriceChunk {
		c, err := b.store.RepriceCycleChunk(b.ctx, key, after, 500, func(band int, cs []tiered.Priced) []tiered.Delta {
			return tiered.Reprice(r, band, cs)
		})
		require.NoError(t, err)
		return c
	}

	first := chunk(0)
	require.Equal(t, store.RepriceChunk{Band: 0, Seen: 500, Repriced: 500, LastID: ids[499]}, first)
	second := chunk(first.LastID)
	require.Equal(t, store.RepriceChunk{Band: 0, Seen: 1, Repriced: 1, LastID: 0}, second, "the 501st, and the 502nd already at the band")
	for _, id := range []int64{ids[0], ids[499], ids[500]} {
		requireAmount(t, "11", b.conversion(t, id).Payout)
	}

	again := chunk(0)
	require.Equal(t, store.RepriceChunk{Band: 0, Seen: 0, Repriced: 0, LastID: ids[499]}, again, "a second run writes nothing")
	require.Zero(t, chunk(again.LastID).Repriced)
	var retro int
	require.NoError(t, b.tx.QueryRow(b.ctx, `SELECT count(*) FROM ledger_lines l JOIN conversions c ON c.id = l.conversion_id
		WHERE c.offer_id = $1 AND l.reason = 'retro'`, n.offer).Scan(&retro))
	require.Equal(t, 501, retro)
}
