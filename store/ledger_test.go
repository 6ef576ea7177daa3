package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/internal/pgtest"
	"github.com/tierwise/tierwise/store"
)

// TestLedgerIsAppendOnly: the database keeps the ledger append-only whatever
// the caller (DESIGN §12): lines are never deleted or truncated, and the only
// update is marking an unpaid line paid, once.
func TestLedgerIsAppendOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	n := b.network(t, store.OfferEvent{Payout: cpa("10"), Revenue: rpa("20")})
	c := b.convert(t, n, sale{})
	ls, err := b.store.Lines(b.ctx, c.ID)
	require.NoError(t, err)
	require.Len(t, ls, 2)
	line := ls[0].ID

	refused := []struct {
		name, sql string
	}{
		{"ChangeAnAmount", `UPDATE ledger_lines SET amount = amount + 1 WHERE id = $1`},
		{"ChangeAReason", `UPDATE ledger_lines SET reason = 'manual' WHERE id = $1`},
		{"Delete", `DELETE FROM ledger_lines WHERE id = $1`},
	}
	for _, r := range refused {
		require.ErrorContains(t, b.exec(r.sql, line), "append-only", r.name)
	}

	run, err := b.store.CreatePayoutRun(b.ctx, &n.partner, "2026-11-30")
	require.NoError(t, err)
	require.Equal(t, 1, run.LineCount)
	require.ErrorContains(t, b.exec(`UPDATE ledger_lines SET payout_run_id = NULL WHERE id = $1`, line), "append-only", "a paid line stays paid")
	require.ErrorContains(t, b.exec(`UPDATE ledger_lines SET amount = 0 WHERE id = $1`, line), "append-only", "a paid line never changes")

	after, err := b.store.Lines(b.ctx, c.ID)
	require.NoError(t, err)
	require.Len(t, after, 2)
	requireAmount(t, "10", after[0].Amount)
	require.Equal(t, run.ID, *after[0].PayoutRunID)
}

// TestTruncateLedgerFails: a statement trigger refuses TRUNCATE of the
// ledger, also when it comes by cascade. TRUNCATE takes an exclusive lock,
// so this runs on a database of its own rather than the shared one.
func TestTruncateLedgerFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	st := store.New(pool)
	adv, _, err := st.CreateAdvertiser(ctx, store.AdvertiserInput{Name: "Broker"})
	require.NoError(t, err)
	offer, err := st.CreateOffer(ctx, store.OfferInput{AdvertiserID: adv.ID, Name: "Offer", Currency: "USD",
		DestinationURL: "https://advertiser.example/", Events: []store.OfferEvent{{Payout: cpa("10"), Revenue: rpa("20")}}})
	require.NoError(t, err)
	partner, err := st.CreatePartner(ctx, store.PartnerInput{Name: "Partner"})
	require.NoError(t, err)
	b := &testBundle{ctx: ctx, store: st}
	b.convert(t, network{advertiser: adv.ID, offer: offer.ID, partner: partner.ID}, sale{})

	for _, stmt := range []string{`TRUNCATE ledger_lines`, `TRUNCATE conversions CASCADE`, `TRUNCATE ledger_lines, payout_runs`} {
		_, err := pool.Exec(ctx, stmt)
		require.ErrorContains(t, err, "TRUNCATE is refused", stmt)
	}
	var lines int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM ledger_lines`).Scan(&lines))
	require.Equal(t, 2, lines)
}
