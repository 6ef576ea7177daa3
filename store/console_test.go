package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/activities"
	"github.com/tierwise/tierwise/internal/pgtest"
	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
)

func TestSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := pgtest.Tx(t)
	st := store.New(tx)
	k, secret, err := st.CreateAPIKey(ctx, store.KeyAdmin, 0, "Dana")
	require.NoError(t, err)

	sess, cookie, err := st.CreateSession(ctx, store.NewSession{Key: k, KeyHash: store.HashSecret(secret), TTL: time.Hour})
	require.NoError(t, err)
	require.NotEqual(t, secret, cookie)
	require.NotEmpty(t, sess.CSRFToken)
	got, err := st.SessionBySecret(ctx, cookie)
	require.NoError(t, err)
	require.Equal(t, sess.ID, got.ID)
	require.Equal(t, k.ID, got.APIKeyID)
	require.Equal(t, "Dana", got.KeyName)
	require.Equal(t, sess.CSRFToken, got.CSRFToken)
	_, err = st.SessionBySecret(ctx, "tw_session_guess")
	require.ErrorIs(t, err, store.ErrNotFound)

	_, err = st.RevokeAPIKey(ctx, k.ID)
	require.NoError(t, err)
	_, err = st.SessionBySecret(ctx, cookie)
	require.ErrorIs(t, err, store.ErrNotFound, "a revoked key's sessions end")

	configured := store.APIKey{Kind: store.KeyAdmin, Name: store.ConfiguredKeyName}
	_, cookie, err = st.CreateSession(ctx, store.NewSession{Key: configured, KeyHash: store.HashSecret("k"), TTL: time.Hour})
	require.NoError(t, err)
	got, err = st.SessionBySecret(ctx, cookie)
	require.NoError(t, err)
	require.Zero(t, got.APIKeyID, "a configured key has no row")
	require.NoError(t, st.DeleteSession(ctx, cookie))
	_, err = st.SessionBySecret(ctx, cookie)
	require.ErrorIs(t, err, store.ErrNotFound, "signed out")

	_, cookie, err = st.CreateSession(ctx, store.NewSession{Key: configured, KeyHash: "h", TTL: time.Hour})
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `UPDATE console_sessions SET expires_at = now() - interval '1 second' WHERE token_hash = $1`, store.HashSecret(cookie))
	require.NoError(t, err)
	_, err = st.SessionBySecret(ctx, cookie)
	require.ErrorIs(t, err, store.ErrNotFound, "expired")
	_, _, err = st.CreateSession(ctx, store.NewSession{Key: configured, KeyHash: "h"})
	require.Error(t, err, "a session needs a lifetime")
}

func TestAdminKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.New(pgtest.Tx(t))
	k, err := st.AdminKey(ctx, "from-config", []string{"other", "from-config"})
	require.NoError(t, err)
	require.True(t, k.Configured())
	_, err = st.AdminKey(ctx, "", []string{""})
	require.ErrorIs(t, err, store.ErrNotFound, "an empty key is never a key")
	_, err = st.AdminKey(ctx, "tw_admin_nope", nil)
	require.ErrorIs(t, err, store.ErrNotFound)

	p, err := st.CreatePartner(ctx, store.PartnerInput{Name: "P"})
	require.NoError(t, err)
	_, partnerSecret, err := st.CreateAPIKey(ctx, store.KeyPartner, p.ID, "")
	require.NoError(t, err)
	_, err = st.AdminKey(ctx, partnerSecret, nil)
	require.ErrorIs(t, err, store.ErrNotAllowed)
	_, _, err = st.CreateAPIKey(ctx, store.KeyAdmin, 0, "")
	var invalid *store.InvalidError
	require.ErrorAs(t, err, &invalid, "an admin key needs a name")
}

// TestGlobalCycles: a global period's cycle never ends (period_end is
// infinity); the commission-cycle report and the outbox sweeper read it.
func TestGlobalCycles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.New(pgtest.Tx(t))
	adv, _, err := st.CreateAdvertiser(ctx, store.AdvertiserInput{Name: "A"})
	require.NoError(t, err)
	d := decimal.RequireFromString
	offer, err := st.CreateOffer(ctx, store.OfferInput{AdvertiserID: adv.ID, Name: "O", Currency: "USD", DestinationURL: "https://a.example/",
		Events: []store.OfferEvent{{Payout: pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: d("1")}, Revenue: pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: d("2")}}}})
	require.NoError(t, err)
	p, err := st.CreatePartner(ctx, store.PartnerInput{Name: "P"})
	require.NoError(t, err)
	_, err = st.CreateTieredRule(ctx, tiered.Rule{Name: "Lifetime", Active: true, OfferIDs: []int64{offer.ID}, AppliesTo: tiered.AppliesToBase,
		StartDate: "2020-01-01", Period: tiered.PeriodGlobal, Bands: []tiered.Band{{Name: "All", Bounds: []tiered.Bound{{Metric: tiered.MetricConversions}}}}})
	require.NoError(t, err)
	c, _, err := st.InsertConversion(ctx, store.NewConversion{AdvertiserID: adv.ID, OfferID: offer.ID, PartnerID: p.ID, DedupeKey: "k",
		Currency: "USD", Status: store.StatusApproved, OccurredAt: time.Now(), WorkflowID: "anonymous"})
	require.NoError(t, err)
	_, _, signals, err := st.PriceConversion(ctx, c.ID, activities.Price)
	require.NoError(t, err)
	require.Len(t, signals, 1, "the period opened")

	rows, err := st.CommissionCycles(ctx, store.CycleFilter{Limit: 10})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Nil(t, rows[0].PeriodEnd, "never ends")
	unsent, err := st.UnsentCycleSignals(ctx, time.Now().Add(time.Hour), 10)
	require.NoError(t, err)
	require.Len(t, unsent, 1)
	require.True(t, unsent[0].PeriodEnd.IsZero(), "no end")
}
