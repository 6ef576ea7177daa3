package store_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/activities"
	"github.com/tierwise/tierwise/store"
)

// TestStatusTransitions: SetStatus follows DESIGN §13.3, §14.1 and §14.10.
func TestStatusTransitions(t *testing.T) {
	t.Parallel()

	// approvable checks an approval that prices the conversion as a new
	// arrival.
	approvable := func(t *testing.T, b *testBundle, c store.Conversion) {
		t.Helper()
		change, err := b.store.SetStatus(b.ctx, c.ID, store.StatusApproved)
		require.NoError(t, err)
		require.True(t, change.Price, "priced as a new arrival")
		require.False(t, change.Reversed)
		require.Equal(t, store.StatusApproved, change.Conversion.Status)
		require.Empty(t, change.Conversion.RejectionReason)
		require.Nil(t, change.Conversion.SignalledAt, "the sweeper signals it if the caller cannot")
		requireAmount(t, "10", b.price(t, c.ID).Payout)
	}
	conflict := func(t *testing.T, b *testBundle, id int64, status, mentions string) {
		t.Helper()
		_, err := b.store.SetStatus(b.ctx, id, status)
		require.ErrorIs(t, err, store.ErrConflict)
		require.ErrorContains(t, err, mentions)
	}

	t.Run("PendingToApproved", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := b.network(t, store.OfferEvent{Payout: cpa("10"), Revenue: rpa("20")})
		approvable(t, b, b.insert(t, n, sale{status: store.StatusPending}))
	})

	t.Run("PendingToRejected", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := b.network(t, store.OfferEvent{Payout: cpa("10"), Revenue: rpa("20")})
		c := b.insert(t, n, sale{status: store.StatusPending})
		change, err := b.store.SetStatus(b.ctx, c.ID, store.StatusRejected)
		require.NoError(t, err)
		require.False(t, change.Price)
		require.False(t, change.Reversed, "nothing was priced, nothing to reverse")
		require.Equal(t, store.RejectManual, change.Conversion.RejectionReason)
		approvable(t, b, change.Conversion)
	})

	for _, reason := range []string{store.RejectPartnerNotApproved, store.RejectPartnerInactive, store.RejectOfferInactive,
		store.RejectAdvertiserInactive, store.RejectPostback} {
		t.Run("RejectedNeverPriced_"+reason, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			n := b.network(t, store.OfferEvent{Payout: cpa("10"), Revenue: rpa("20")})
			c := b.insert(t, n, sale{status: store.StatusRejected, reason: reason})
			_, priced, _, err := b.store.PriceConversion(b.ctx, c.ID, activities.Price)
			require.NoError(t, err)
			require.False(t, priced, "a rejected conversion is never priced")
			approvable(t, b, c)
		})
	}

	t.Run("ApprovedToRejectedReversesAndStays", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := b.network(t, store.OfferEvent{Payout: cpa("10"), Revenue: rpa("20")})
		c := b.convert(t, n, sale{})
		change, err := b.store.SetStatus(b.ctx, c.ID, store.StatusRejected)
		require.NoError(t, err)
		require.True(t, change.Reversed)
		require.Equal(t, store.RejectManual, change.Conversion.RejectionReason)
		requireAmount(t, "0", change.Conversion.Payout)
		require.Equal(t, map[string]string{"price": "10.00", "reversal": "-10.00"}, b.lines(t, c.ID, store.KindPayout))
		conflict(t, b, c.ID, store.StatusApproved, "rejected")
	})

	t.Run("ReversedPendingIsRejectedForGood", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := b.network(t, store.OfferEvent{Payout: cpa("10"), Revenue: rpa("20")})
		c := b.insert(t, n, sale{status: store.StatusPending})
		got, tell, err := b.store.ReverseConversion(b.ctx, c.ID, "chargeback")
		require.NoError(t, err)
		require.False(t, tell, "no workflow ever saw it")
		require.Equal(t, store.StatusRejected, got.Status)
		require.Equal(t, store.RejectReversed, got.RejectionReason)
		require.NotNil(t, got.ReversedAt)
		conflict(t, b, c.ID, store.StatusApproved, "is rejected and reversed")
	})

	t.Run("ReversedApprovedIsNeverApprovedAgain", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := b.network(t, store.OfferEvent{Payout: cpa("10"), Revenue: rpa("20")})
		c := b.convert(t, n, sale{})
		_, tell, err := b.store.ReverseConversion(b.ctx, c.ID, "chargeback")
		require.NoError(t, err)
		require.True(t, tell)
		conflict(t, b, c.ID, store.StatusApproved, "is approved and reversed")
		change, err := b.store.SetStatus(b.ctx, c.ID, store.StatusRejected)
		require.NoError(t, err)
		require.False(t, change.Reversed, "already reversed: nothing more to tell")
		requireAmount(t, "0", change.Conversion.Payout)
	})

	t.Run("ApprovedButUnpricedReversedIsNeverPriced", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := b.network(t, store.OfferEvent{Payout: cpa("10"), Revenue: rpa("20")})
		c := b.insert(t, n, sale{})
		_, _, err := b.store.ReverseConversion(b.ctx, c.ID, "chargeback")
		require.NoError(t, err)
		_, priced, _, err := b.store.PriceConversion(b.ctx, c.ID, activities.Price)
		require.NoError(t, err)
		require.False(t, priced, "the signal that arrives after the reversal prices nothing")
		require.Empty(t, b.lines(t, c.ID, store.KindPayout))
	})
}
