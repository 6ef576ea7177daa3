package store_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/store"
)

// TestPendingFollowsTheConversionAsRead: WithPending runs after the
// conversions were read. A conversion read before its pricing committed
// still says that pricing is pending when the pricing commits in between,
// so GET /conversions/{id} never answers "not priced" with nothing pending
// (DESIGN §14.12); read after, it says what follows the pricing.
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
	require.Equal(t, []string{store.PendingPricing}, cs[0].Pending, "read unpriced")
	require.Equal(t, []string{store.PendingCustomerValue}, cs[1].Pending, "read priced, not yet seen by the rules")
	require.Equal(t, []string{}, cs[2].Pending, "a rejected conversion has no work to come")
}
