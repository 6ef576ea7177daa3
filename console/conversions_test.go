package console_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
)

// marginNetwork is the README's network: the offer's partner is in a tier
// with a 30% margin that applies to the offer, so it earns $0.70 of the
// $1.00 revenue instead of the offer's $0.50.
func (b *testBundle) marginNetwork() (network, store.TierDetail) {
	b.t.Helper()
	ctx := context.Background()
	n := b.network()
	tier, err := b.store.CreateTier(ctx, store.TierInput{Name: "Margin 30", Margin: dec("30"), PartnerIDs: []int64{n.Partner.ID}})
	require.NoError(b.t, err)
	_, err = b.store.SetTierOffer(ctx, tier.ID, n.Offer.ID, store.TierOfferInput{AutoApprove: true, ApplyMargin: true})
	require.NoError(b.t, err)
	return n, tier
}

func TestConsoleConversionReport(t *testing.T) {
	t.Parallel()
	b := setup(t).admin()
	ctx := context.Background()
	n, tier := b.marginNetwork()
	other, err := b.store.CreatePartner(ctx, store.PartnerInput{Name: "Red Clicks"})
	require.NoError(t, err)
	rule, err := b.store.CreateTieredRule(ctx, tiered.Rule{Name: "Volume bonus", Active: true, OfferIDs: []int64{n.Offer.ID},
		AppliesTo: tiered.AppliesToBase, StartDate: "2020-01-01", Period: tiered.PeriodGlobal,
		Bands: []tiered.Band{{Name: "Gold", Bounds: []tiered.Bound{{Metric: tiered.MetricConversions}},
			Payout: &tiered.Adjustment{Action: tiered.ActionIncrease, By: tiered.ByFlat, Value: dec("0.10")}}}})
	require.NoError(t, err)

	tiered1 := b.convert(n, conversion{UserID: "=HYPERLINK(\"http://evil.example\")", At: time.Now().Add(-2 * time.Hour)})
	plain := b.convert(n, conversion{PartnerID: other.ID, OrderID: "o-2"})
	pending := b.convert(n, conversion{Status: store.StatusPending, OrderID: "o-3"})
	rejected := b.convert(n, conversion{Status: store.StatusRejected, OrderID: "o-4"})
	require.Equal(t, "0.8", tiered1.Payout.String(), "$0.70 margin payout + $0.10 tiered")
	require.Equal(t, "0.6", plain.Payout.String(), "the offer's $0.50 + $0.10 tiered")

	rowIDs := func(p page) []string {
		var ids []string
		for _, m := range regexp.MustCompile(`<tr data-conversion="(\d+)">`).FindAllStringSubmatch(p.Body, -1) {
			ids = append(ids, m[1])
		}
		return ids
	}

	t.Run("All", func(t *testing.T) {
		p := b.mustGet("/console/conversions")
		require.Equal(t, []string{itoa(tiered1.ID), itoa(plain.ID), itoa(pending.ID), itoa(rejected.ID)}, rowIDs(p))
		require.Contains(t, p.Body, `<span class="chip">Volume bonus</span>`, "the rule's name on its rows")
		require.Contains(t, p.Body, "the partner was not approved for the offer", "the rejection reason")
		require.Regexp(t, `Conversions \(USD\)</div><div class="value">4</div><div class="sub">2 approved · 1 pending · 1 rejected`, p.Body)
		require.Regexp(t, `Payout</div><div class="value">\$1.40</div>`, p.Body, "0.80 + 0.60")
		require.Regexp(t, `Margin</div><div class="value">\$0.60</div>`, p.Body, "2.00 − 1.40")
	})
	t.Run("Filters", func(t *testing.T) {
		cases := map[string][]string{
			"partner_id=" + itoa(other.ID):                      {itoa(plain.ID)},
			"tier_id=" + itoa(tier.ID):                          {itoa(tiered1.ID), itoa(pending.ID), itoa(rejected.ID)},
			"status=pending":                                    {itoa(pending.ID)},
			"rejection_reason=partner_not_approved":             {itoa(rejected.ID)},
			"tiered_rule_id=" + itoa(rule.ID):                   {itoa(tiered1.ID), itoa(plain.ID)},
			"offer_id=" + itoa(n.Offer.ID) + "&status=approved": {itoa(tiered1.ID), itoa(plain.ID)},
			"advertiser_id=" + itoa(n.Advertiser.ID) + "&user_id=" + url.QueryEscape(tiered1.UserID): {itoa(tiered1.ID)},
			"from=2000-01-01&to=2000-01-02": nil,
		}
		for q, want := range cases {
			require.Equal(t, want, rowIDs(b.mustGet("/console/conversions?"+q)), q)
		}
	})
	t.Run("BadFilters", func(t *testing.T) {
		p := b.get("/console/conversions?from=yesterday&status=lost")
		require.Equal(t, http.StatusBadRequest, p.Status)
		requireField(t, p, "from", "must be a date")
		require.Regexp(t, `id="status-error" role="alert">must be one of pending, approved, rejected`, p.Body)
		require.Contains(t, p.Body, "<strong>Check the filters:</strong> 2 problems")
	})
	t.Run("Pages", func(t *testing.T) {
		for i := range 50 {
			b.convert(n, conversion{PartnerID: other.ID, OrderID: "bulk-" + itoa(int64(i))})
		}
		first := b.mustGet("/console/conversions?partner_id=" + itoa(other.ID))
		require.Len(t, rowIDs(first), 50)
		next := regexp.MustCompile(`href="(\?[^"]*after=\d+[^"]*)" id="next-page"`).FindStringSubmatch(first.Body)
		require.NotNil(t, next, "a next page")
		second := b.mustGet("/console/conversions" + strings.ReplaceAll(next[1], "&amp;", "&"))
		require.Len(t, rowIDs(second), 1, "51 in all")
		require.Contains(t, second.Body, "1 shown of 51")
	})
	t.Run("CSVIsWhatIsShown", func(t *testing.T) {
		p := b.mustGet("/console/conversions?tier_id=" + itoa(tier.ID))
		export := regexp.MustCompile(`href="([^"]+)" id="export-csv"`).FindStringSubmatch(p.Body)
		require.NotNil(t, export)
		csvPage := b.mustGet(strings.ReplaceAll(export[1], "&amp;", "&"))
		require.Equal(t, "text/csv; charset=utf-8", csvPage.Header.Get("Content-Type"))
		rows, err := csv.NewReader(strings.NewReader(csvPage.Body)).ReadAll()
		require.NoError(t, err)
		require.Len(t, rows, 4, "the header and the three rows the page shows")
		require.Equal(t, "Conversion", rows[0][0])
		require.Equal(t, []string{itoa(tiered1.ID), itoa(pending.ID), itoa(rejected.ID)}, []string{rows[1][0], rows[2][0], rows[3][0]})
		col := func(name string) int {
			for i, c := range rows[0] {
				if c == name {
					return i
				}
			}
			t.Fatalf("no column %s", name)
			return -1
		}
		require.Equal(t, `'=HYPERLINK("http://evil.example")`, rows[1][col("User")], "a formula is neutralised")
		require.Equal(t, "0.8", rows[1][col("Payout")])
		require.Equal(t, "Volume bonus", rows[1][col("Rules")])
		require.Equal(t, "Sign-up", rows[1][col("Offer")])
	})
}

func TestConsoleConversionPage(t *testing.T) {
	t.Parallel()
	b := setup(t).admin()
	ctx := context.Background()
	n, _ := b.marginNetwork()

	t.Run("WhyItPays", func(t *testing.T) {
		c := b.convert(n, conversion{UserID: "42"})
		p := b.mustGet("/console/conversions/" + itoa(c.ID))
		require.Contains(t, p.Body, `<div class="value" id="payout">$0.70</div>`)
		require.Contains(t, p.Body, "Pays $0.70, set by the Partner Tier margin. Earns the network $1.00 (margin $0.30).")
		layer := func(n int) string {
			m := regexp.MustCompile(`(?s)<article class="layer[^"]*" data-layer="` + itoa(int64(n)) + `">(.*?)</article>`).FindStringSubmatch(p.Body)
			require.NotNil(t, m, "layer %d", n)
			return m[1]
		}
		require.Contains(t, layer(1), "0.50 fixed = 0.50")
		require.Contains(t, layer(1), "replaced by the Partner Tier margin")
		require.Contains(t, layer(2), "decided the payout")
		require.Contains(t, layer(2), `Tier &#34;Margin 30&#34;: margin 30%`)
		require.Contains(t, layer(2), "(100% − 30% margin) × 1.00 revenue (from the offer default) = 0.70")
		require.Contains(t, layer(3), "no custom setting matches")
		require.Contains(t, layer(4), "No Tiered Commission")
		require.Contains(t, layer(5), "No Customer Value rule")
		require.Contains(t, p.Body, `href="http://temporal-ui.example/namespaces/default/workflows?query=WorkflowId%3D%22customer%2F`+itoa(n.Advertiser.ID)+`%2F42%22"`)
		require.Contains(t, p.Body, "not in a payout run yet")
	})
	t.Run("PendingIsExplained", func(t *testing.T) {
		c := b.convert(n, conversion{Status: store.StatusPending, OrderID: "p-1"})
		p := b.mustGet("/console/conversions/" + itoa(c.ID))
		require.Contains(t, p.Body, "Pending: a pending conversion gets no ledger lines")
		require.Contains(t, p.Body, `id="approve"`)
	})
	t.Run("WaitingToBePriced", func(t *testing.T) {
		c, _, err := b.store.InsertConversion(ctx, store.NewConversion{AdvertiserID: n.Advertiser.ID, OfferID: n.Offer.ID, PartnerID: n.Partner.ID,
			DedupeKey: "unpriced", Currency: "USD", Status: store.StatusApproved, OccurredAt: time.Now(), WorkflowID: "anonymous"})
		require.NoError(t, err)
		p := b.mustGet("/console/conversions/" + itoa(c.ID))
		require.Contains(t, p.Body, `id="pending"`)
		require.Contains(t, p.Body, `hx-get="/console/conversions/`+itoa(c.ID)+`/pending"`)
		poll := b.mustGet("/console/conversions/" + itoa(c.ID) + "/pending")
		require.Contains(t, poll.Body, "Work pending:")
		require.Empty(t, poll.Header.Get("HX-Refresh"))
		b.price(c.ID)
		poll = b.mustGet("/console/conversions/" + itoa(c.ID) + "/pending")
		require.Equal(t, "true", poll.Header.Get("HX-Refresh"), "priced: the page reloads")
	})
	t.Run("Reject", func(t *testing.T) {
		c := b.convert(n, conversion{Status: store.StatusPending, OrderID: "p-2"})
		p := b.post("/console/conversions/"+itoa(c.ID)+"/status", url.Values{"status": {"rejected"}})
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		got, err := b.store.Conversion(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, store.StatusRejected, got.Status)
		// Rejected before it was priced: an admin may still approve it, and
		// it is then priced as a new arrival (DESIGN §13.3, §14.1).
		p = b.post("/console/conversions/"+itoa(c.ID)+"/status", url.Values{"status": {"approved"}})
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		got, err = b.store.Conversion(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, store.StatusApproved, got.Status)

		// Rejected after it was priced: its lines are reversed, and it stays
		// rejected.
		priced := b.price(b.convert(n, conversion{OrderID: "p-3"}).ID)
		p = b.post("/console/conversions/"+itoa(priced.ID)+"/status", url.Values{"status": {"rejected"}})
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		p = b.post("/console/conversions/"+itoa(priced.ID)+"/status", url.Values{"status": {"approved"}})
		require.Equal(t, http.StatusConflict, p.Status)
		require.Contains(t, p.Body, "stays rejected")
	})
	t.Run("RefundAndReverse", func(t *testing.T) {
		c := b.convert(n, conversion{OrderID: "r-1"})
		p := b.post("/console/conversions/"+itoa(c.ID)+"/refund", url.Values{"revenue": {"0.40"}, "reason": {"chargeback"}})
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		got, err := b.store.Conversion(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, "0.42", got.Payout.String(), "70% of the $0.60 revenue left")
		page := b.mustGet(p.Location)
		require.Contains(t, page.Body, "Partial refund")
		require.Contains(t, page.Body, "−$0.28")

		bad := b.post("/console/conversions/"+itoa(c.ID)+"/refund", url.Values{"revenue": {"abc"}})
		require.Equal(t, http.StatusBadRequest, bad.Status)
		requireField(t, bad, "revenue", "must be a number")

		p = b.post("/console/conversions/"+itoa(c.ID)+"/reverse", url.Values{"note": {"fraud"}})
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		got, err = b.store.Conversion(ctx, c.ID)
		require.NoError(t, err)
		require.True(t, got.Payout.IsZero())
		page = b.mustGet(p.Location)
		require.Contains(t, page.Body, "Reversal")
		require.NotContains(t, page.Body, `id="reverse"`, "a reversal is final")
		p = b.post("/console/conversions/"+itoa(c.ID)+"/refund", url.Values{"revenue": {"0.10"}})
		require.Equal(t, http.StatusConflict, p.Status)
		require.Contains(t, p.Body, "is reversed")
	})
	t.Run("Unknown", func(t *testing.T) {
		require.Equal(t, http.StatusNotFound, b.get("/console/conversions/99999").Status)
	})
}
