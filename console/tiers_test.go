package console_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/store"
)

func TestConsoleTiers(t *testing.T) {
	t.Parallel()
	b := setup(t).admin()
	ctx := context.Background()
	n := b.network()
	other, err := b.store.CreatePartner(ctx, store.PartnerInput{Name: "Red Clicks"})
	require.NoError(t, err)
	tiers := func() []store.PartnerTier {
		ts, err := b.store.Tiers(ctx, store.Page{Limit: 10})
		require.NoError(t, err)
		return ts
	}

	t.Run("MarginOver100", func(t *testing.T) {
		p := b.post("/console/tiers", url.Values{"name": {"Margin 130"}, "margin": {"130"}, "partner_ids": {itoa(n.Partner.ID)}})
		require.Equal(t, http.StatusBadRequest, p.Status)
		requireField(t, p, "margin", "must be a percent from 0 to 100, got 130")
		require.Contains(t, p.Body, `value="Margin 130"`, "the form keeps what was typed")
		require.Len(t, tiers(), 1, "nothing saved: only the default tier")
	})
	t.Run("MarginNotANumber", func(t *testing.T) {
		p := b.post("/console/tiers", url.Values{"name": {""}, "margin": {"30%"}})
		require.Equal(t, http.StatusBadRequest, p.Status)
		requireField(t, p, "margin", `must be a number such as 30 or 12.50, got "30%"`)
		requireField(t, p, "name", "is required")
	})

	var id int64
	t.Run("Create", func(t *testing.T) {
		p := b.post("/console/tiers", url.Values{"name": {"New Partners"}, "margin": {"30"}, "status": {"active"},
			"description": {"Our first tier"}, "partner_ids": {itoa(n.Partner.ID)}})
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		ts := tiers()
		require.Len(t, ts, 2)
		id = ts[1].ID
		require.Equal(t, "/console/tiers/"+itoa(id), p.Location)
		require.Equal(t, "30", ts[1].Margin.String())
		got, err := b.store.Partner(ctx, n.Partner.ID)
		require.NoError(t, err)
		require.Equal(t, id, got.TierID)
		page := b.mustGet(p.Location)
		require.Contains(t, page.Body, `<strong id="tier-margin">30%</strong>`)
		require.Contains(t, page.Body, "members get 70% of the revenue")
	})
	t.Run("OffersCard", func(t *testing.T) {
		p := b.post("/console/tiers/"+itoa(id)+"/offers", url.Values{"offer_id": {itoa(n.Offer.ID)}, "auto_approve": {"on"}})
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		page := b.mustGet("/console/tiers/" + itoa(id))
		require.Regexp(t, `id="auto-approve-`+itoa(n.Offer.ID)+`" checked`, page.Body)
		require.Regexp(t, `id="apply-margin-`+itoa(n.Offer.ID)+`" >`, page.Body)
		require.Contains(t, page.Body, "base: the offer&#39;s payout, CPA $0.50")

		// htmx saves a toggle in place and answers the offer's card.
		req, err := http.NewRequest(http.MethodPost, b.url+"/console/tiers/"+itoa(id)+"/offers/"+itoa(n.Offer.ID),
			strings.NewReader(url.Values{"auto_approve": {"on"}, "apply_margin": {"on"}}.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("HX-Request", "true")
		req.Header.Set("X-CSRF-Token", b.csrf())
		frag := b.do(req)
		require.Equal(t, http.StatusOK, frag.Status, frag.Body)
		require.True(t, strings.HasPrefix(strings.TrimSpace(frag.Body), `<form class="card tier-offer"`), frag.Body)
		require.Contains(t, frag.Body, `role="status">saved</span>`)
		require.Contains(t, frag.Body, "base: 70% of the $1.00 revenue = $0.70")
		tier, err := b.store.Tier(ctx, id)
		require.NoError(t, err)
		require.Equal(t, []store.TierOffer{{OfferID: n.Offer.ID, OfferName: "Sign-up", AutoApprove: true, ApplyMargin: true}}, tier.Offers)

		p = b.post("/console/tiers/"+itoa(id)+"/offers/"+itoa(n.Offer.ID)+"/remove", nil)
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		tier, err = b.store.Tier(ctx, id)
		require.NoError(t, err)
		require.Empty(t, tier.Offers)
	})
	t.Run("PartnersInNoTier", func(t *testing.T) {
		page := b.mustGet("/console/tiers/" + itoa(id))
		require.Contains(t, page.Body, `id="candidate-`+itoa(other.ID)+`"`, "Red Clicks is still in the default tier")
		require.NotContains(t, page.Body, `id="candidate-`+itoa(n.Partner.ID)+`"`, "a member is no candidate")
		vip, err := b.store.CreateTier(ctx, store.TierInput{Name: "VIP", PartnerIDs: []int64{other.ID}})
		require.NoError(t, err)
		page = b.mustGet("/console/tiers/" + itoa(id))
		require.NotContains(t, page.Body, `id="candidate-`+itoa(other.ID)+`"`, "in a tier now")
		page = b.mustGet("/console/tiers/" + itoa(id) + "?candidates=all")
		require.Contains(t, page.Body, `id="candidate-`+itoa(other.ID)+`"`, "all partners of other tiers")

		p := b.post("/console/tiers/"+itoa(id)+"/partners/add", url.Values{"partner_ids": {itoa(other.ID)}})
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		got, err := b.store.Partner(ctx, other.ID)
		require.NoError(t, err)
		require.Equal(t, id, got.TierID)

		p = b.post("/console/tiers/"+itoa(id)+"/partners/remove", url.Values{"partner_ids": {itoa(other.ID), itoa(n.Partner.ID)}})
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		tier, err := b.store.Tier(ctx, id)
		require.NoError(t, err)
		require.Empty(t, tier.PartnerIDs)
		_ = vip
	})
	t.Run("DefaultTier", func(t *testing.T) {
		def := tiers()[0]
		require.True(t, def.IsDefault)
		p := b.post("/console/tiers/"+itoa(def.ID), url.Values{"name": {def.Name}, "status": {"inactive"}, "margin": {"0"}})
		require.Equal(t, http.StatusConflict, p.Status)
		require.Contains(t, p.Body, "must stay active")
		p = b.post("/console/tiers/"+itoa(id)+"/make-default", nil)
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		tier, err := b.store.Tier(ctx, id)
		require.NoError(t, err)
		require.True(t, tier.IsDefault)
		p = b.post("/console/tiers/"+itoa(id)+"/delete", nil)
		require.Equal(t, http.StatusConflict, p.Status)
		p = b.post("/console/tiers/"+itoa(def.ID)+"/delete", nil)
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	})
	t.Run("EditMargin", func(t *testing.T) {
		p := b.post("/console/tiers/"+itoa(id), url.Values{"name": {"New Partners"}, "status": {"active"}, "margin": {"130"}})
		require.Equal(t, http.StatusBadRequest, p.Status)
		requireField(t, p, "margin", "from 0 to 100")
		p = b.post("/console/tiers/"+itoa(id), url.Values{"name": {"New Partners"}, "status": {"active"}, "margin": {"25"}, "description": {""}})
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		tier, err := b.store.Tier(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "25", tier.Margin.String())
	})
	t.Run("List", func(t *testing.T) {
		p := b.mustGet("/console/tiers")
		require.Contains(t, p.Body, ">New Partners</a> <span class=\"badge default\">default</span>")
		require.Contains(t, p.Body, "25%")
	})
}

func TestConsoleCustomPayouts(t *testing.T) {
	t.Parallel()
	b := setup(t).admin()
	ctx := context.Background()
	n := b.network()
	mk := func(in store.CustomPayoutInput) store.CustomPayout {
		c, err := b.store.CreateCustomPayout(ctx, in)
		require.NoError(t, err)
		return c
	}
	cpa := func(amount string) *pricing.PayoutRate {
		return &pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec(amount)}
	}
	start := time.Now().Add(-time.Hour)
	all := mk(store.CustomPayoutInput{OfferID: n.Offer.ID, Payout: cpa("0.60")})
	dated := mk(store.CustomPayoutInput{OfferID: n.Offer.ID, Payout: cpa("0.80"), StartsAt: &start})
	mine := mk(store.CustomPayoutInput{OfferID: n.Offer.ID, PartnerID: &n.Partner.ID, Payout: cpa("0.90")})

	t.Run("ConflictOrder", func(t *testing.T) {
		p := b.mustGet("/console/custom-payouts")
		rows := regexp.MustCompile(`<td class="num"><strong>(\d)</strong></td><td>(\d+)</td>`).FindAllStringSubmatch(p.Body, -1)
		require.Len(t, rows, 3)
		var order []string
		for _, r := range rows {
			order = append(order, r[2])
		}
		require.Equal(t, []string{itoa(mine.ID), itoa(dated.ID), itoa(all.ID)}, order, "partner first, then dated, then the rest")
		require.Contains(t, p.Body, "a setting for this partner beats one for all partners")
		require.Contains(t, p.Body, "a setting with a date range beats one without")
	})
	t.Run("Create", func(t *testing.T) {
		p := b.post("/console/custom-payouts", url.Values{"offer_id": {itoa(n.Offer.ID)}, "event": {"deposit"},
			"payout.type": {"cps"}, "payout.percent": {"12.5"}, "starts_at": {"2026-01-01T00:00"}, "ends_at": {"2026-02-01T00:00"}})
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		cs, err := b.store.CustomPayouts(ctx, store.CustomPayoutFilter{OfferID: n.Offer.ID, Page: store.Page{Limit: 10}})
		require.NoError(t, err)
		require.Len(t, cs, 4)
		require.Equal(t, "deposit", cs[3].Event)
		require.Equal(t, "2026-01-01T00:00:00Z", cs[3].StartsAt.Format(time.RFC3339))
	})
	t.Run("Problems", func(t *testing.T) {
		p := b.post("/console/custom-payouts", url.Values{"offer_id": {itoa(n.Offer.ID)}, "event": {"trade"}, "payout.type": {"cpa"},
			"payout.amount": {"-1"}, "ends_at": {"soon"}})
		require.Equal(t, http.StatusBadRequest, p.Status)
		requireField(t, p, "ends_at", "must be a date and time")
		requireField(t, p, "payout.amount", "negative")
	})
	t.Run("Delete", func(t *testing.T) {
		p := b.post("/console/custom-payouts/"+itoa(all.ID)+"/delete", nil)
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		_, err := b.store.CustomPayout(ctx, all.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}
