package pricing_test

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/pricing"
)

// TestSortByConflictOrder: the order lists settings as Price ranks them,
// and the first of those that match a conversion is the one Price picks.
func TestSortByConflictOrder(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	start := t0.Add(-time.Hour)
	cpa := &pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: decimal.NewFromInt(1)}
	settings := []pricing.CustomSetting{
		{ID: 1, Payout: cpa, CreatedAt: t0},                   // all partners, undated, older
		{ID: 2, Payout: cpa, CreatedAt: t0.Add(time.Minute)},  // all partners, undated, newer
		{ID: 3, Payout: cpa, CreatedAt: t0, StartsAt: &start}, // all partners, dated
		{ID: 4, PartnerID: 7, Payout: cpa, CreatedAt: t0},     // the partner's
		{ID: 5, Payout: cpa, CreatedAt: t0.Add(time.Minute)},  // ties with 2 but for the id
	}
	sorted := append([]pricing.CustomSetting(nil), settings...)
	pricing.SortByConflictOrder(sorted)
	var ids []int64
	for _, s := range sorted {
		ids = append(ids, s.ID)
	}
	require.Equal(t, []int64{4, 3, 2, 5, 1}, ids)
	require.Equal(t, "a setting for this partner beats one for all partners", pricing.ConflictRule(sorted[0], sorted[1]))
	require.Equal(t, "a setting with a date range beats one without", pricing.ConflictRule(sorted[1], sorted[2]))
	require.Equal(t, "the lower id breaks the tie", pricing.ConflictRule(sorted[2], sorted[3]))
	require.Equal(t, "the newer setting beats the older", pricing.ConflictRule(sorted[3], sorted[4]))
	require.Empty(t, pricing.ConflictRule(sorted[4], sorted[0]), "the last beats nothing above it")

	win, ok := pricing.SelectCustom(settings, 7, t0)
	require.True(t, ok)
	require.Equal(t, sorted[0].ID, win.ID, "the first in the order is Price's winner")
}
