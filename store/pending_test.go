package store_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/store"
)

// TestPendingFollowsTheConversionAsRead: WithPending reads the conversions
// again together with their pending work, in one statement, so a
// conversion and what it says is pending are of one moment: one read before
// its pricing committed comes back priced, with what follows the pricing,
// and GET /conversions/{id} never answers "not priced" with nothing pending
// (DESIGN §14.12).
func TestPendingFollowsTheConversionAsRead(t *testing.T) {
	t.Parallel()
	b := setup(t)
	n := b.network(t, store.OfferEvent{Payout: cpa("5"), Revenue: rpa("8")})
	before := b.insert(t, n, sale{user: "u1"})
	b.price(t, before.ID) // as the pricing activity does, leaving the rules to see it
	after := b.conversion(t, before.ID)
	rejected := b.insert(t, n, sale{user: "u2", status: store.StatusRejected})

	cs := []store.Conversion{before, after, rejected}
	require.NoError(t, b.store.WithPending(b.ctx, cs))
	require.False(t, before.Priced, "read before its pricing")
	require.True(t, cs[0].Priced, "read again with its pending work")
	require.Equal(t, "5", cs[0].Payout.String())
	require.Equal(t, []string{store.PendingCustomerValue}, cs[0].Pending, "priced, not yet seen by the rules")
	require.Equal(t, []string{store.PendingCustomerValue}, cs[1].Pending, "read priced, not yet seen by the rules")
	require.Equal(t, []string{}, cs[2].Pending, "a rejected conversion has no work to come")
}
