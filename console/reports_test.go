package console_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
	"github.com/tierwise/tierwise/workflows"
)

// level10 is seed 000's Level 10 bonus: $25 once per customer whose level
// reaches 10.
func (b *testBundle) level10() customervalue.Rule {
	b.t.Helper()
	rec, _, err := b.store.CreateCustomerValueRule(context.Background(), store.CustomerValueRuleInput{
		Rule: customervalue.Rule{Name: "Level 10 Bonus", AppliesOn: customervalue.AppliesOnAll, StartsAt: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
			Timeframe:  customervalue.Timeframe{Cycle: customervalue.CycleContinuous, Anchor: customervalue.AnchorFirstConversion},
			Grouping:   customervalue.GroupAll,
			Conditions: []customervalue.Condition{{Source: "level", Aggregation: customervalue.AggAny, Operator: customervalue.OpGte, Value: "10"}},
			Outcome: customervalue.RuleOutcome{Frequency: customervalue.OncePerCustomer, Trigger: customervalue.TriggerInstant, Kind: customervalue.KindBonus,
				Payout: customervalue.Rate{Type: customervalue.RateFixed, Amount: dec("25")}}},
		DataPoints: []store.DataPointInput{{Name: "Level reached", Identifier: "level", Type: store.DataPointNumber}},
	})
	require.NoError(b.t, err)
	return rec.Rule
}

// applyValue runs the customer's conversions through the Customer Value
// rules as the customer's workflow does, and records the outcomes and the
// state snapshot.
func (b *testBundle) applyValue(advertiserID int64, userID string, cs []store.Conversion) {
	b.t.Helper()
	ctx := context.Background()
	rules, err := b.store.ActiveCustomerValueRules(ctx)
	require.NoError(b.t, err)
	st := workflows.NewCustomerState(advertiserID, userID)
	var outcomes []store.ValueOutcome
	for _, c := range cs {
		data := map[string]string{}
		for k, v := range c.Data {
			data[k] = fmt.Sprint(v)
		}
		for _, o := range st.Value.Apply(rules, customervalue.Conversion{ID: c.ID, PartnerID: c.PartnerID, OfferID: c.OfferID,
			AdvertiserID: c.AdvertiserID, Event: c.Event, At: c.OccurredAt, Currency: c.Currency, SaleAmount: c.SaleAmount,
			Revenue: c.Revenue, Payout: c.Payout, Data: data}, time.UTC) {
			outcomes = append(outcomes, store.ValueOutcome{RuleID: o.RuleID, RuleName: o.RuleName, ConversionID: o.ConversionID,
				Payout: o.Payout, Key: o.Key})
		}
	}
	require.NoError(b.t, b.store.RecordCustomer(ctx, advertiserID, userID, outcomes, nil, st))
}

func TestConsoleConversionEventsReportPage(t *testing.T) {
	t.Parallel()
	b := setup(t).admin()
	ctx := context.Background()
	n := b.network()
	b.level10()
	start := time.Now().Add(-3 * time.Hour)
	var cs []store.Conversion
	for i, level := range []string{"3", "7", "12"} {
		event, order := "", ""
		if i > 0 {
			event, order = "deposit", "d"+level
		}
		cs = append(cs, b.convert(n, conversion{UserID: "player-1", Event: event, OrderID: order, Sale: "100",
			Data: map[string]any{"level": level}, At: start.Add(time.Duration(i) * time.Hour)}))
	}
	b.applyValue(n.Advertiser.ID, "player-1", cs)

	t.Run("Lookup", func(t *testing.T) {
		p := b.mustGet("/console/customers")
		require.Contains(t, p.Body, `name="user_id"`)
		missing := b.get("/console/customers?user_id=nobody")
		require.Equal(t, http.StatusNotFound, missing.Status)
		require.Contains(t, missing.Body, `id="no-customer"`)
	})
	t.Run("Timeline", func(t *testing.T) {
		p := b.mustGet("/console/customers?user_id=player-1")
		var order []string
		for _, m := range regexp.MustCompile(`<li data-conversion="(\d+)">`).FindAllStringSubmatch(p.Body, -1) {
			order = append(order, m[1])
		}
		require.Equal(t, []string{itoa(cs[0].ID), itoa(cs[1].ID), itoa(cs[2].ID)}, order, "in time order")
		require.Contains(t, p.Body, `<span class="chip">level = 12</span>`)
		require.Contains(t, p.Body, `bonus of Customer Value rule`, "the bonus line on the third")
		require.Contains(t, p.Body, `<span class="chip">Level 10 Bonus</span>`)
		require.Contains(t, p.Body, "progress from the snapshot")
		require.Contains(t, p.Body, "<strong>12</strong>; the goal: ≥ 10", "the condition's value and target")
		require.Contains(t, p.Body, "outcome given")
	})
	t.Run("SeveralAdvertisers", func(t *testing.T) {
		other, _, err := b.store.CreateAdvertiser(ctx, store.AdvertiserInput{Name: "Other Casino"})
		require.NoError(t, err)
		n2 := n
		n2.Advertiser = other
		o2, err := b.store.CreateOffer(ctx, store.OfferInput{AdvertiserID: other.ID, Name: "Install", Currency: "USD",
			DestinationURL: "https://other.example/", Events: n.Offer.Events})
		require.NoError(t, err)
		n2.Offer = o2
		b.convert(n2, conversion{UserID: "player-1"})
		p := b.mustGet("/console/customers?user_id=player-1")
		require.Contains(t, p.Body, "2 advertisers have a customer")
		p = b.mustGet(fmt.Sprintf("/console/customers?user_id=player-1&advertiser_id=%d", other.ID))
		require.Contains(t, p.Body, "of Other Casino")
	})
}

func TestConsoleCommissionCycles(t *testing.T) {
	t.Parallel()
	b := setup(t).admin()
	ctx := context.Background()
	n := b.network()
	rule, err := b.store.CreateTieredRule(ctx, tiered.Rule{Name: "Monthly volume", Active: true, OfferIDs: []int64{n.Offer.ID},
		AppliesTo: tiered.AppliesToBase, StartDate: "2020-01-01", Period: tiered.PeriodMonthly, Retro: tiered.RetroEnabled,
		Bands: []tiered.Band{
			{Name: "Bronze", Bounds: []tiered.Bound{{Metric: tiered.MetricConversions, Max: ptr(dec("2"))}}},
			{Name: "Silver", Bounds: []tiered.Bound{{Metric: tiered.MetricConversions, Min: ptr(dec("2"))}},
				Payout: &tiered.Adjustment{Action: tiered.ActionIncrease, By: tiered.ByPercent, Value: dec("10")}},
		}})
	require.NoError(t, err)
	b.convert(n, conversion{OrderID: "c1"})

	p := b.mustGet("/console/cycles")
	require.Contains(t, p.Body, "Monthly volume")
	require.Contains(t, p.Body, `<span class="badge good">Bronze</span>`)
	require.Contains(t, p.Body, `<meter min="0" max="2" value="1"`, "the bar from the band's start to the next band")
	require.Contains(t, p.Body, "conversions 1 / &gt;2: 1 to go")
	require.Contains(t, p.Body, "enabled", "the retroactive mode")

	b.convert(n, conversion{OrderID: "c2"})
	b.convert(n, conversion{OrderID: "c3"})
	p = b.mustGet("/console/cycles?rule_id=" + itoa(rule.ID) + "&partner_id=" + itoa(n.Partner.ID))
	require.Contains(t, p.Body, `<span class="badge good">Silver</span>`)
	require.Contains(t, p.Body, "top band")
	require.Equal(t, 1, strings.Count(p.Body, `<tr data-cycle=`))
	require.NotContains(t, b.mustGet("/console/cycles?partner_id=9999").Body, `<tr data-cycle=`)
}

func TestConsolePayoutRuns(t *testing.T) {
	t.Parallel()
	b := setup(t).admin()
	ctx := context.Background()
	n := b.network()
	c1 := b.convert(n, conversion{OrderID: "a", At: time.Now().Add(-48 * time.Hour)})
	b.convert(n, conversion{OrderID: "b", At: time.Now().Add(-48 * time.Hour), UserID: "+1 555 0100"})
	late := b.convert(n, conversion{OrderID: "c"})

	t.Run("BadCutoff", func(t *testing.T) {
		p := b.post("/console/payout-runs", url.Values{"cutoff": {"tomorrow"}})
		require.Equal(t, http.StatusBadRequest, p.Status)
		requireField(t, p, "cutoff", "must be a date")
	})
	var id int64
	t.Run("Create", func(t *testing.T) {
		cutoff := time.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02")
		p := b.post("/console/payout-runs", url.Values{"cutoff": {cutoff}, "partner_id": {""}})
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		runs, err := b.store.PayoutRuns(ctx, store.Page{Limit: 10})
		require.NoError(t, err)
		require.Len(t, runs, 1)
		id = runs[0].ID
		require.Equal(t, 2, runs[0].LineCount, "the late conversion waits for the next run")
		page := b.mustGet(p.Location)
		require.Contains(t, page.Body, "Payout run "+itoa(id)+" created: 2 lines marked paid.")
		require.Contains(t, page.Body, `<td class="num">2</td><td class="num">$1.00</td>`, "Blue Media's total")
		require.Contains(t, page.Body, `href="/console/conversions/`+itoa(c1.ID)+`"`)
		require.NotContains(t, page.Body, `href="/console/conversions/`+itoa(late.ID)+`"`)
		require.Contains(t, b.mustGet("/console/conversions/"+itoa(c1.ID)).Body, `in payout run <a href="/console/payout-runs/`+itoa(id)+`">#`+itoa(id))
	})
	t.Run("List", func(t *testing.T) {
		p := b.mustGet("/console/payout-runs")
		require.Contains(t, p.Body, `<a href="/console/payout-runs/`+itoa(id)+`">`+itoa(id)+`</a>`)
	})
	t.Run("CSV", func(t *testing.T) {
		p := b.mustGet("/console/payout-runs/" + itoa(id) + "/export.csv")
		rows, err := csv.NewReader(strings.NewReader(p.Body)).ReadAll()
		require.NoError(t, err)
		require.Len(t, rows, 3)
		require.Equal(t, "Line", rows[0][0])
		require.Equal(t, "0.5", rows[1][9])
		require.Equal(t, "Blue Media", rows[1][4])
	})
	t.Run("UnknownPartner", func(t *testing.T) {
		p := b.post("/console/payout-runs", url.Values{"cutoff": {"2026-01-01"}, "partner_id": {"9999"}})
		require.Equal(t, http.StatusBadRequest, p.Status)
		requireField(t, p, "partner_id", "No such partner")
	})
}

func TestConsoleHome(t *testing.T) {
	t.Parallel()
	b := setup(t).admin()
	ctx := context.Background()
	n := b.network()
	b.convert(n, conversion{OrderID: "today"})
	stuck, _, err := b.store.InsertConversion(ctx, store.NewConversion{AdvertiserID: n.Advertiser.ID, OfferID: n.Offer.ID, PartnerID: n.Partner.ID,
		DedupeKey: "stuck", Currency: "USD", Status: store.StatusApproved, OccurredAt: time.Now(), WorkflowID: "anonymous"})
	require.NoError(t, err)
	// Its signal failed as often as makes it stuck.
	_, err = b.pool.Exec(ctx, `UPDATE conversions SET received_at = now() - interval '5 minutes', signal_attempts = $2 WHERE id = $1`,
		stuck.ID, store.StuckAfterAttempts)
	require.NoError(t, err)

	p := b.mustGet("/console/")
	today := regexp.MustCompile(`(?s)<section class="card" id="today">(.*?)</section>`).FindStringSubmatch(p.Body)
	require.NotNil(t, today)
	require.Regexp(t, `Conversions</div><div class="value">2</div>`, today[1])
	require.Regexp(t, `Payout</div><div class="value">\$0.50</div>`, today[1])
	require.Regexp(t, `Margin</div><div class="value">\$0.50</div>`, today[1])
	pipeline := regexp.MustCompile(`(?s)<section class="card" id="pipeline">(.*?)</section>`).FindStringSubmatch(p.Body)
	require.NotNil(t, pipeline)
	require.Regexp(t, `Waiting to be priced</div><div class="value">1</div>`, pipeline[1])
	require.Regexp(t, `Stuck</div><div class="value">1</div>`, pipeline[1])
	require.Contains(t, pipeline[1], "1 priced in the last 1 hour")
}

func TestConsoleAPIKeys(t *testing.T) {
	t.Parallel()
	b := setup(t).admin()
	ctx := context.Background()

	t.Run("NameRequired", func(t *testing.T) {
		p := b.post("/console/api-keys", url.Values{"name": {""}})
		require.Equal(t, http.StatusBadRequest, p.Status)
		requireField(t, p, "name", "is required")
	})
	var secret string
	t.Run("CreateShowsTheSecretOnce", func(t *testing.T) {
		p := b.post("/console/api-keys", url.Values{"name": {"Finance export"}})
		require.Equal(t, http.StatusCreated, p.Status, p.Body)
		m := regexp.MustCompile(`<code id="shown-secret">(tw_admin_[0-9a-f]+)</code>`).FindStringSubmatch(p.Body)
		require.NotNil(t, m)
		secret = m[1]
		k, err := b.store.AdminKey(ctx, secret, nil)
		require.NoError(t, err)
		require.Equal(t, "Finance export", k.Name)
		list := b.mustGet("/console/api-keys")
		require.Contains(t, list.Body, "Finance export")
		require.NotContains(t, list.Body, secret)
		require.Contains(t, list.Body, "1 more key comes from the configuration")
	})
	t.Run("RevokeOwnKeySignsOut", func(t *testing.T) {
		other := serve(t, b.pool, []string{adminKey})
		require.Equal(t, http.StatusSeeOther, other.signIn(secret).Status)
		keys, err := b.store.APIKeys(ctx, store.APIKeyFilter{Kind: store.KeyAdmin, Page: store.Page{Limit: 10}})
		require.NoError(t, err)
		require.Len(t, keys, 1)
		require.Contains(t, other.mustGet("/console/api-keys").Body, `<span class="badge default">you</span>`)
		p := other.post("/console/api-keys/"+itoa(keys[0].ID)+"/revoke", nil)
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		require.Equal(t, "/console/sign-in", p.Location)
		require.Equal(t, http.StatusSeeOther, other.get("/console/").Status, "signed out")
		_, err = b.store.AdminKey(ctx, secret, nil)
		require.ErrorIs(t, err, store.ErrNotFound)
		require.Contains(t, b.mustGet("/console/api-keys").Body, "revoked", "the first admin is still signed in")
	})
}

func ptr[T any](v T) *T { return &v }
