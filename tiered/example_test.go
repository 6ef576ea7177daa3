package tiered_test

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/tiered"
)

// TestWorkedExamples: the worked example beside the bands is Apply's math on
// a point inside each band.
func TestWorkedExamples(t *testing.T) {
	t.Parallel()
	money := func(d decimal.Decimal) string { return "$" + d.StringFixed(2) }
	in := tiered.ExampleInput{Amounts: tiered.Amounts{SaleAmount: dec("50"), Payout: dec("10"), Revenue: dec("8"), Currency: "USD"}, Money: money}

	t.Run("SeedTenPercentOnTenDollars", func(t *testing.T) {
		t.Parallel()
		r := setup(t).rule
		r.Bands = []tiered.Band{
			band("Base", nil, nil, bound(tiered.MetricConversions, "", "100")),
			band("Gold", increase(tiered.ByPercent, "10"), nil, bound(tiered.MetricConversions, "100", "200")),
		}
		ex := r.Examples(in)
		require.Len(t, ex, 2)
		require.Equal(t, "A partner at 50 conversions this month on an offer paying $10.00 gets $10.00 (the band does not change the payout).", ex[0].Sentence)
		require.Equal(t, "A partner at 150 conversions this month on an offer paying $10.00 gets $11.00 (10% increase of 10.00 payout = 11.00).", ex[1].Sentence)
		require.EqualValues(t, 150, ex[1].Metrics.Conversions)
		require.Equal(t, 1, r.BandAt(ex[1].Metrics), "the example's point is inside its band")
		requireAmount(t, "1.00", ex[1].Result.Payout)
		require.Nil(t, ex[1].Retro)
	})
	t.Run("RetroAndRevenueAndTwoMetrics", func(t *testing.T) {
		t.Parallel()
		r := setup(t).rule
		r.Period, r.Retro = tiered.PeriodWeekly, tiered.RetroCustom
		b := band("Pro", set(tiered.RateSalePercent, "20"), increase(tiered.ByFlat, "1"),
			bound(tiered.MetricConversions, "10", ""), bound(tiered.MetricRevenue, "", "500"))
		b.RetroPayout = increase(tiered.ByFlat, "2")
		r.Bands = []tiered.Band{b}
		ex := r.Examples(in)
		require.Len(t, ex, 1)
		require.Equal(t, "A partner at 15 conversions and 250 of revenue this week on an offer paying $10.00 gets $10.00 "+
			"(set to 20% × 50.00 sale amount = 10.00); the revenue of $8.00 becomes $9.00; "+
			"its earlier unpaid conversions this period are re-priced to $12.00.", ex[0].Sentence)
		require.Equal(t, 0, r.BandAt(ex[0].Metrics))
	})
	t.Run("CountsAreWhole", func(t *testing.T) {
		t.Parallel()
		r := setup(t).rule
		r.Period = tiered.PeriodGlobal
		r.Bands = []tiered.Band{band("One", increase(tiered.ByFlat, "1"), nil, bound(tiered.MetricConversions, "0", "1"))}
		ex := r.Examples(in)
		require.Len(t, ex, 1)
		require.EqualValues(t, 1, ex[0].Metrics.Conversions)
		require.Contains(t, ex[0].Sentence, "A partner at 1 conversion in total")
	})
	t.Run("BandsWithoutBoundsAreLeftOut", func(t *testing.T) {
		t.Parallel()
		r := setup(t).rule
		r.Bands = []tiered.Band{{Name: "Empty"}}
		require.Empty(t, r.Examples(in))
	})
}

// TestDraftConflicts: a rule being edited is checked against the saved
// rules before it is saved, and a new one wins as the newest.
func TestDraftConflicts(t *testing.T) {
	t.Parallel()
	saved := setup(t).rule // rule 1: offer 10, all partners, (0, 100] and (100, ∞)
	other := saved
	other.ID, other.OfferIDs = 2, []int64{20}
	paused := saved
	paused.ID, paused.Active = 3, false
	rules := []tiered.Rule{saved, other, paused}

	t.Run("NewDraftWinsAsNewest", func(t *testing.T) {
		t.Parallel()
		draft := setup(t).rule
		draft.ID, draft.CreatedAt, draft.Active = 0, time.Time{}, false
		cs := tiered.DraftConflicts(draft, rules, nil)
		require.Len(t, cs, 1, "only the active rule on the same offer")
		require.Equal(t, int64(1), cs[0].A)
		require.Equal(t, int64(0), cs[0].B)
		require.Equal(t, int64(0), cs[0].Winner)
		require.Equal(t, "this rule wins: the newer rule beats the older", cs[0].Why)
		require.Contains(t, cs[0].Overlap, `bands[0] "Standard" of rule 1 and bands[0] "Standard" of this rule both hold when conversions in (0, 100]`)
	})
	t.Run("PartnerSpecificSavedRuleWins", func(t *testing.T) {
		t.Parallel()
		specific := saved
		specific.PartnerIDs = []int64{7}
		draft := setup(t).rule
		draft.ID, draft.CreatedAt = 0, time.Time{}
		cs := tiered.DraftConflicts(draft, []tiered.Rule{specific}, nil)
		require.Len(t, cs, 1)
		require.Equal(t, int64(1), cs[0].Winner)
		require.Contains(t, cs[0].Why, "rule 1 names partner 7 and wins for them")
		require.Contains(t, cs[0].Why, "for every other partner this rule applies")
	})
	t.Run("EditingASavedRuleSkipsItself", func(t *testing.T) {
		t.Parallel()
		require.Empty(t, tiered.DraftConflicts(saved, rules, nil), "rule 1's saved version is not a conflict of its draft")
	})
	t.Run("NoOverlapNoConflict", func(t *testing.T) {
		t.Parallel()
		draft := setup(t).rule
		draft.ID, draft.OfferIDs = 0, []int64{30}
		require.Empty(t, tiered.DraftConflicts(draft, rules, nil))
	})
}
