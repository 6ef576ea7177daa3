package console_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/tiered"
)

// volumeForm is seed 001's "10% more after the first 100 conversions" for
// the network's offer, as the editor posts it.
func volumeForm(offerID int64) url.Values {
	return url.Values{
		"name": {"Volume bonus"}, "status": {"active"}, "scope_kind": {"offers"}, "offer_ids": {itoa(offerID)},
		"partners_scope": {"all"}, "applies_to": {"base"}, "start_date": {"2024-01-01"}, "period": {"monthly"}, "retro_mode": {"enabled"},
		"bands[0].name": {"Standard"}, "bands[0].bounds[0].metric": {"conversions"}, "bands[0].bounds[0].max": {"100"},
		"bands[1].name": {"Pro"}, "bands[1].bounds[0].metric": {"conversions"}, "bands[1].bounds[0].min": {"100"},
		"bands[1].payout.how": {"increase/percent"}, "bands[1].payout.value": {"10"},
	}
}

func TestConsoleTieredEditor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("SavesWhatTheAPIWould", func(t *testing.T) {
		t.Parallel()
		b := setup(t).admin()
		n := b.network()
		p := b.post("/console/tiered-commissions", volumeForm(n.Offer.ID))
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		rules, err := b.store.TieredRules(ctx, false)
		require.NoError(t, err)
		require.Len(t, rules, 1)
		r := rules[0]
		require.Equal(t, []int64{n.Offer.ID}, r.OfferIDs)
		require.Equal(t, tiered.RetroEnabled, r.Retro)
		require.Len(t, r.Bands, 2)
		require.Nil(t, r.Bands[0].Payout)
		require.Equal(t, &tiered.Adjustment{Action: "increase", By: "percent", Value: dec("10")}, r.Bands[1].Payout)
		require.Equal(t, "100", r.Bands[1].Bounds[0].Min.String())

		page := b.mustGet(p.Location)
		body := html.UnescapeString(page.Body)
		require.Contains(t, body, `A partner at 150 conversions this month on an offer paying $0.50 gets $0.55 (10% increase of 0.50 payout = 0.55)`,
			"the worked example on the offer's own payout")
		require.Contains(t, body, "From 2024-01-01 00:00:00, without an end (UTC)")
		require.Contains(t, body, `id="no-conflicts"`)
	})
	t.Run("OverlappingBandsRefusedNamingBothAndTheRange", func(t *testing.T) {
		t.Parallel()
		b := setup(t).admin()
		n := b.network()
		form := volumeForm(n.Offer.ID)
		form.Set("bands[1].bounds[0].min", "50")
		live := html.UnescapeString(b.post("/console/tiered-commissions/draft", form).Body)
		require.Contains(t, live, `bands[1] "Pro" overlaps bands[0] "Standard": both hold when conversions in (50, 100]`, "shown while editing")
		p := b.post("/console/tiered-commissions", form)
		require.Equal(t, http.StatusBadRequest, p.Status)
		require.Regexp(t, `(?s)id="band-1".*<p class="field-error" role="alert" id="band-1-error">bands\[1\] &#34;Pro&#34; overlaps bands\[0\] &#34;Standard&#34;: both hold when conversions in \(50, 100\]</p>`, p.Body,
			"refused next to the band")
		rules, err := b.store.TieredRules(ctx, false)
		require.NoError(t, err)
		require.Empty(t, rules)
	})
	t.Run("ConflictsWithTheWinnerBeforeSaving", func(t *testing.T) {
		t.Parallel()
		b := setup(t).admin()
		n := b.network()
		require.Equal(t, http.StatusSeeOther, b.post("/console/tiered-commissions", volumeForm(n.Offer.ID)).Status)
		first, err := b.store.TieredRules(ctx, false)
		require.NoError(t, err)
		form := volumeForm(n.Offer.ID)
		form.Set("name", "Blue Media's deal")
		form.Set("partners_scope", "selected")
		form.Set("partner_ids", itoa(n.Partner.ID))
		body := html.UnescapeString(b.post("/console/tiered-commissions/draft", form).Body)
		require.Contains(t, body, `<a href="/console/tiered-commissions/`+itoa(first[0].ID)+`">rule `+itoa(first[0].ID)+` "Volume bonus"</a>`)
		require.Contains(t, body, `Wins: <strong class="winner">this rule</strong>`)
		require.Contains(t, body, "this rule names partner "+itoa(n.Partner.ID)+" and wins for them")
		rules, err := b.store.TieredRules(ctx, false)
		require.NoError(t, err)
		require.Len(t, rules, 1, "nothing saved while editing")
	})
	t.Run("AddAndRemoveBands", func(t *testing.T) {
		t.Parallel()
		b := setup(t).admin()
		n := b.network()
		form := volumeForm(n.Offer.ID)
		form.Set("action", "add_band")
		p := b.post("/console/tiered-commissions/draft", form)
		require.Contains(t, p.Body, `id="band-2"`)
		require.Contains(t, p.Body, `name="bands[2].bounds[0].metric"`)
		form.Set("action", "remove_band:0")
		p = b.post("/console/tiered-commissions/draft", form)
		require.NotContains(t, p.Body, `id="band-1"`)
		require.Contains(t, p.Body, `name="bands[0].name" value="Pro"`, "renumbered")
	})
}
