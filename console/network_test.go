package console_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/store"
)

func TestConsoleAdvertisers(t *testing.T) {
	t.Parallel()
	b := setup(t).admin()
	ctx := context.Background()

	var id int64
	t.Run("CreateShowsTheTokenOnce", func(t *testing.T) {
		p := b.post("/console/advertisers", url.Values{"name": {"Acme Broker"}, "status": {"active"}})
		require.Equal(t, http.StatusCreated, p.Status, p.Body)
		token := regexp.MustCompile(`<code id="shown-secret">(tw_pb_[0-9a-f]+)</code>`).FindStringSubmatch(p.Body)
		require.NotNil(t, token, "the token is shown")
		require.Contains(t, p.Body, "/postback?token="+token[1]+"&amp;transaction_id={transaction_id}")
		as, err := b.store.Advertisers(ctx, store.Page{Limit: 10})
		require.NoError(t, err)
		require.Len(t, as, 1)
		id = as[0].ID
		adv, err := b.store.AdvertiserByPostbackToken(ctx, token[1])
		require.NoError(t, err)
		require.Equal(t, id, adv.ID)

		again := b.mustGet("/console/advertisers/" + itoa(id))
		require.NotContains(t, again.Body, token[1], "shown once")
		require.Contains(t, again.Body, "token=YOUR_POSTBACK_TOKEN")
	})
	t.Run("List", func(t *testing.T) {
		p := b.mustGet("/console/advertisers")
		require.Contains(t, p.Body, `href="/console/advertisers/`+itoa(id)+`">Acme Broker</a>`)
	})
	t.Run("NameRequired", func(t *testing.T) {
		p := b.post("/console/advertisers", url.Values{"name": {"  "}})
		require.Equal(t, http.StatusBadRequest, p.Status)
		requireField(t, p, "name", "is required")
	})
	t.Run("Rename", func(t *testing.T) {
		p := b.post("/console/advertisers/"+itoa(id), url.Values{"name": {"Acme Markets"}, "status": {"inactive"}})
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		a, err := b.store.Advertiser(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "Acme Markets", a.Name)
		require.Equal(t, store.AdvertiserInactive, a.Status)
		require.Contains(t, b.mustGet(p.Location).Body, "Advertiser saved.")
	})
	t.Run("RotateToken", func(t *testing.T) {
		p := b.post("/console/advertisers/"+itoa(id)+"/rotate-token", nil)
		require.Equal(t, http.StatusOK, p.Status, p.Body)
		token := regexp.MustCompile(`<code id="shown-secret">(tw_pb_[0-9a-f]+)</code>`).FindStringSubmatch(p.Body)
		require.NotNil(t, token)
		adv, err := b.store.AdvertiserByPostbackToken(ctx, token[1])
		require.NoError(t, err)
		require.Equal(t, id, adv.ID)
	})
	t.Run("Unknown", func(t *testing.T) {
		require.Equal(t, http.StatusNotFound, b.get("/console/advertisers/999").Status)
		require.Equal(t, http.StatusNotFound, b.get("/console/advertisers/x").Status)
	})
}

func TestConsoleOffers(t *testing.T) {
	t.Parallel()
	b := setup(t).admin()
	ctx := context.Background()
	adv, _, err := b.store.CreateAdvertiser(ctx, store.AdvertiserInput{Name: "Acme Broker"})
	require.NoError(t, err)

	offer := url.Values{
		"advertiser_id": {itoa(adv.ID)}, "name": {"Sign-up"}, "status": {"active"}, "visibility": {"require_approval"},
		"currency": {"usd"}, "destination_url": {"https://acme.example/join?click={transaction_id}"},
		"events[0].event": {""}, "events[0].payout.type": {"cpa"}, "events[0].payout.amount": {"0.50"},
		"events[0].revenue.type": {"rpa"}, "events[0].revenue.amount": {"1.00"},
		// A row removed in the browser leaves a gap in the indexes.
		"events[2].event": {"deposit"}, "events[2].payout.type": {"cps"}, "events[2].payout.percent": {"10"},
		"events[2].revenue.type": {"rps"}, "events[2].revenue.percent": {"20"}, "events[2].repeatable": {"on"},
	}
	var id int64
	t.Run("Create", func(t *testing.T) {
		p := b.post("/console/offers", offer)
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		os, err := b.store.Offers(ctx, store.OfferFilter{Page: store.Page{Limit: 10}})
		require.NoError(t, err)
		require.Len(t, os, 1)
		o := os[0]
		id = o.ID
		require.Equal(t, "/console/offers/"+itoa(id), p.Location)
		require.Equal(t, "USD", o.Currency)
		require.Equal(t, store.VisibilityRequireApproval, o.Visibility)
		require.Len(t, o.Events, 2)
		dep, ok := o.Event("deposit")
		require.True(t, ok)
		require.True(t, dep.Repeatable)
		require.Equal(t, "10", dep.Payout.Percent.String())
	})
	t.Run("ListShowsEventsAndRates", func(t *testing.T) {
		p := b.mustGet("/console/offers")
		require.Contains(t, p.Body, "CPA $0.50 / RPA $1.00")
		require.Contains(t, p.Body, "CPS 10% of sale / RPS 20% of sale")
	})
	t.Run("EditShowsTrackingLink", func(t *testing.T) {
		p := b.mustGet("/console/offers/" + itoa(id))
		require.Contains(t, p.Body, "/click?offer_id="+itoa(id)+"&amp;partner_id={partner_id}")
		require.Contains(t, p.Body, `name="events[1].event" value="deposit"`)
	})
	t.Run("ProblemsNextToTheirRow", func(t *testing.T) {
		bad := cloneForm(offer)
		bad.Set("events[0].payout.amount", "fifty cents")
		bad.Set("events[2].payout.type", "cpm")
		bad.Set("name", "")
		p := b.post("/console/offers", bad)
		require.Equal(t, http.StatusBadRequest, p.Status)
		requireField(t, p, "name", "is required")
		require.Contains(t, p.Body, "Row 1, payout.amount: must be a number")
		require.Contains(t, p.Body, "Row 2, payout.type: unknown type")
		require.Regexp(t, `name="events\[1\]\.payout\.type" aria-invalid="true"`, p.Body, "the renumbered row is marked")
		require.Contains(t, p.Body, `value="fifty cents"`, "the form keeps what was typed")
		os, err := b.store.Offers(ctx, store.OfferFilter{Page: store.Page{Limit: 10}})
		require.NoError(t, err)
		require.Len(t, os, 1, "nothing saved")
	})
	t.Run("Update", func(t *testing.T) {
		edit := cloneForm(offer)
		edit.Set("name", "Sign-up EU")
		edit.Del("events[2].event")
		for k := range edit {
			if strings.HasPrefix(k, "events[2]") {
				edit.Del(k)
			}
		}
		p := b.post("/console/offers/"+itoa(id), edit)
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		o, err := b.store.Offer(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "Sign-up EU", o.Name)
		require.Len(t, o.Events, 1)
	})
	t.Run("NewOfferForm", func(t *testing.T) {
		p := b.mustGet("/console/offers/new?advertiser_id=" + itoa(adv.ID))
		require.Contains(t, p.Body, `<option value="`+itoa(adv.ID)+`" selected>Acme Broker</option>`)
		require.Contains(t, p.Body, `id="event-row-template"`)
	})
}

func TestConsolePartners(t *testing.T) {
	t.Parallel()
	b := setup(t).admin()
	ctx := context.Background()
	n := b.network()
	vip, err := b.store.CreateTier(ctx, store.TierInput{Name: "VIP", Margin: dec("10")})
	require.NoError(t, err)
	private, err := b.store.CreateOffer(ctx, store.OfferInput{AdvertiserID: n.Advertiser.ID, Name: "Private deal", Visibility: store.VisibilityPrivate,
		Currency: "USD", DestinationURL: "https://acme.example/", Events: n.Offer.Events})
	require.NoError(t, err)

	var id int64
	t.Run("CreateInATier", func(t *testing.T) {
		p := b.post("/console/partners", url.Values{"name": {"Green Leads"}, "status": {"active"}, "tier_id": {itoa(vip.ID)}})
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		ps, err := b.store.Partners(ctx, store.PartnerFilter{TierID: vip.ID, Page: store.Page{Limit: 10}})
		require.NoError(t, err)
		require.Len(t, ps, 1)
		id = ps[0].ID
	})
	t.Run("TierFilter", func(t *testing.T) {
		p := b.mustGet("/console/partners?tier_id=" + itoa(vip.ID))
		require.Contains(t, p.Body, "Green Leads")
		require.NotContains(t, p.Body, ">Blue Media<")
		all := b.mustGet("/console/partners")
		require.Contains(t, all.Body, ">Blue Media<")
	})
	t.Run("UnknownTier", func(t *testing.T) {
		p := b.post("/console/partners", url.Values{"name": {"Lost"}, "tier_id": {"9999"}})
		require.Equal(t, http.StatusBadRequest, p.Status)
		require.Contains(t, p.Body, "no tier 9999")
	})
	t.Run("Approvals", func(t *testing.T) {
		page := b.mustGet("/console/partners/" + itoa(id))
		require.Contains(t, page.Body, "Private deal (private)", "the private offer can be approved")
		p := b.post("/console/partners/"+itoa(id)+"/approvals", url.Values{"offer_id": {itoa(private.ID)}})
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		ok, _, err := b.store.MayRun(ctx, id, private.ID)
		require.NoError(t, err)
		require.True(t, ok)
		page = b.mustGet("/console/partners/" + itoa(id))
		require.Contains(t, page.Body, "/console/partners/"+itoa(id)+"/approvals/"+itoa(private.ID)+"/revoke")
		p = b.post("/console/partners/"+itoa(id)+"/approvals/"+itoa(private.ID)+"/revoke", nil)
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		ok, _, err = b.store.MayRun(ctx, id, private.ID)
		require.NoError(t, err)
		require.False(t, ok)
	})
	t.Run("WhatThePartnerSees", func(t *testing.T) {
		p := b.mustGet("/console/partners/" + itoa(n.Partner.ID))
		require.Contains(t, p.Body, "CPA $0.50", "the payout of the public offer")
		require.Contains(t, p.Body, "/click?offer_id="+itoa(n.Offer.ID)+"&amp;partner_id="+itoa(n.Partner.ID))
	})
	t.Run("Keys", func(t *testing.T) {
		p := b.post("/console/partners/"+itoa(id)+"/keys", url.Values{"name": {"reporting script"}})
		require.Equal(t, http.StatusCreated, p.Status, p.Body)
		secret := regexp.MustCompile(`<code id="shown-secret">(tw_partner_[0-9a-f]+)</code>`).FindStringSubmatch(p.Body)
		require.NotNil(t, secret)
		k, err := b.store.LookupAPIKey(ctx, secret[1])
		require.NoError(t, err)
		require.Equal(t, id, k.PartnerID)
		p = b.post("/console/partners/"+itoa(n.Partner.ID)+"/keys/"+itoa(k.ID)+"/revoke", nil)
		require.Equal(t, http.StatusNotFound, p.Status, "a key of another partner")
		p = b.post("/console/partners/"+itoa(id)+"/keys/"+itoa(k.ID)+"/revoke", nil)
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		_, err = b.store.LookupAPIKey(ctx, secret[1])
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("MoveTier", func(t *testing.T) {
		p := b.post("/console/partners/"+itoa(id), url.Values{"name": {"Green Leads"}, "status": {"suspended"}, "tier_id": {itoa(n.Partner.TierID)}})
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		got, err := b.store.Partner(ctx, id)
		require.NoError(t, err)
		require.Equal(t, n.Partner.TierID, got.TierID)
		require.Equal(t, store.PartnerSuspended, got.Status)
	})
}
