package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/tierwise/tierwise/worker"
	"github.com/tierwise/tierwise/workflows"
)

// send sends a postback that must be accepted and returns its conversion id
// without waiting for the pricing.
func (b *testBundle) send(p map[string]string) int64 {
	b.t.Helper()
	v := params()
	for k, val := range p {
		v.Set(k, val)
	}
	status, body := b.postback(v)
	require.Equal(b.t, http.StatusOK, status, "postback %v: %v", v, body)
	return int64(body["conversion_id"].(float64))
}

// tieredRule creates a tiered commission rule.
func (b *testBundle) tieredRule(rule map[string]any) int64 {
	b.t.Helper()
	var out struct {
		ID int64 `json:"id"`
	}
	b.mustDo(http.StatusCreated, http.MethodPost, "/tiered-commissions", rule, &out)
	return out.ID
}

// payouts returns the payout of each conversion, waiting until all are
// priced and then until cond holds for the total.
func (b *testBundle) payouts(ids []int64, want string) []decimal.Decimal {
	b.t.Helper()
	for _, cid := range ids {
		b.waitPriced(cid)
	}
	total := decimal.RequireFromString(want)
	var got []decimal.Decimal
	ok := assert.Eventually(b.t, func() bool {
		got = got[:0]
		sum := decimal.Zero
		for _, cid := range ids {
			c, err := b.store.Conversion(context.Background(), cid)
			require.NoError(b.t, err)
			got = append(got, c.Payout)
			sum = sum.Add(c.Payout)
		}
		return sum.Equal(total)
	}, 30*time.Second, 50*time.Millisecond, "total payout never reached %s", want)
	if !ok {
		b.t.Fatalf("payouts: %v", got)
	}
	return got
}

func bounds(metric, min string) []map[string]any {
	b := map[string]any{"metric": metric}
	if min != "" {
		b["min"] = min
	}
	return []map[string]any{b}
}

func TestSeedTieredTenToTwenty(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		retro string
		total string // 101 conversions of a $100 sale
		first string // what each of the first 100 ends at
	}{
		{"RetroactiveEnabled", "enabled", "2020", "20"},
		{"RetroactiveDisabled", "disabled", "1020", "10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			adv := b.advertiser()
			offer := b.offer(adv.ID, "public", event{Payout: rate{Type: "cps", Percent: "10"}, Revenue: rate{Type: "rps", Percent: "30"}})
			partner := b.partner(nil)
			b.tieredRule(map[string]any{
				"name": "10% to 20% after 100", "offer_ids": []int64{offer}, "applies_to": "base",
				"start_date": "2020-01-01", "period": "monthly", "retro_mode": tc.retro,
				"bands": []map[string]any{{
					"name": "Over 100", "bounds": bounds("conversions", "100"),
					"payout": map[string]any{"action": "set", "rate": "sale_percent", "value": "20"},
				}},
			})
			var ids []int64
			for i := range 101 {
				ids = append(ids, b.send(map[string]string{"token": adv.Token, "offer_id": id(offer), "partner_id": id(partner),
					"user_id": fmt.Sprint("u", i), "amount": "100"}))
				if i == 99 {
					// The first 100 are priced before the 101st arrives.
					b.payouts(ids, "1000")
				}
			}
			got := b.payouts(ids, tc.total)
			for i, p := range got[:100] {
				requireAmount(t, tc.first, p, "conversion", i+1)
			}
			requireAmount(t, "20", got[100], "the 101st")

			var cycles struct {
				Items []struct {
					Band        int    `json:"band"`
					BandName    string `json:"band_name"`
					RetroPayout string `json:"retro_payout"`
					Metrics     struct {
						Conversions int `json:"conversions"`
					} `json:"metrics"`
				} `json:"items"`
			}
			b.mustDo(http.StatusOK, http.MethodGet, "/commission-cycles", nil, &cycles)
			require.Len(t, cycles.Items, 1)
			require.Equal(t, 101, cycles.Items[0].Metrics.Conversions)
			if tc.retro == "enabled" {
				b.saveHistory(fmt.Sprintf("cycle/1/%d/%d/%s", partner, offer, monthStart()), "commission_cycle_ten_to_twenty.json")
				b.saveHistory(fmt.Sprintf("customer/%d/u100", adv.ID), "customer_ten_to_twenty.json")
			}
			require.Equal(t, "Over 100", cycles.Items[0].BandName)
			if tc.retro == "enabled" {
				require.Equal(t, "1000", cycles.Items[0].RetroPayout)
			} else {
				require.Equal(t, "0", cycles.Items[0].RetroPayout)
			}
		})
	}
}

func TestSeedCustomPlusTier(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", cpaRPA("2.00", "5.00"))
	partner := b.partner(nil)
	b.mustDo(http.StatusCreated, http.MethodPost, "/custom-payouts", map[string]any{
		"offer_id": offer, "partner_id": partner, "payout": map[string]any{"type": "cpa", "amount": "3.00"}}, nil)
	rule := b.tieredRule(map[string]any{
		"name": "Plus 10%", "offer_ids": []int64{offer}, "applies_to": "all", "start_date": "2020-01-01", "period": "global",
		"bands": []map[string]any{{"name": "Everyone", "bounds": bounds("conversions", ""),
			"payout": map[string]any{"action": "increase", "by": "percent", "value": "10"}}},
	})
	c := b.convert(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner), "user_id", "u1"))
	requireAmount(t, "3.30", c.Payout, "custom $3 + 10%")
	require.Equal(t, rule, c.TieredRuleID)
	require.Equal(t, "Plus 10%", c.TieredRuleName)

	// A global period has no end: its cycle workflow waits for bands only.
	wid := fmt.Sprintf("cycle/%d/%d/%d/2020-01-01T00:00:00Z", rule, partner, offer)
	var state workflows.CycleState
	require.Eventually(t, func() bool {
		v, err := b.temporal.Client().QueryWorkflow(context.Background(), wid, "", workflows.QueryState)
		return err == nil && v.Get(&state) == nil && state.Band == 0
	}, 10*time.Second, 50*time.Millisecond, "the cycle workflow took its band")
	require.True(t, state.Cycle.PeriodEnd.IsZero())

	var e struct {
		Tiered struct {
			RuleID int64 `json:"rule_id"`
			Band   int   `json:"band"`
		} `json:"tiered"`
		Lines []struct {
			Reason string `json:"reason"`
			Amount string `json:"amount"`
			Kind   string `json:"kind"`
		} `json:"lines"`
	}
	b.mustDo(http.StatusOK, http.MethodGet, fmt.Sprintf("/conversions/%d/explanation", c.ID), nil, &e)
	require.Equal(t, rule, e.Tiered.RuleID)
	require.Equal(t, 0, e.Tiered.Band)
	require.Contains(t, e.Lines, struct {
		Reason string `json:"reason"`
		Amount string `json:"amount"`
		Kind   string `json:"kind"`
	}{"tiered", "0.3", "payout"})
}

func TestOffersEvaluatedSeparately(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser()
	offerA := b.offer(adv.ID, "public", cpaRPA("1.00", "2.00"))
	offerB := b.offer(adv.ID, "public", cpaRPA("1.00", "2.00"))
	partner := b.partner(nil)
	b.tieredRule(map[string]any{
		"name": "Bonus after 2", "offer_ids": []int64{offerA, offerB}, "applies_to": "base", "start_date": "2020-01-01", "period": "daily",
		"bands": []map[string]any{{"name": "Third on", "bounds": bounds("conversions", "2"),
			"payout": map[string]any{"action": "increase", "by": "flat", "value": "1"}}},
	})
	n := 0
	conv := func(offer int64) int64 {
		n++
		return b.send(map[string]string{"token": adv.Token, "offer_id": id(offer), "partner_id": id(partner), "user_id": fmt.Sprint("u", n)})
	}
	ids := []int64{conv(offerA), conv(offerA), conv(offerB), conv(offerB)}
	b.payouts(ids, "4") // four conversions across two offers: neither offer has more than 2
	third := conv(offerA)
	got := b.payouts([]int64{third}, "2")
	requireAmount(t, "2", got[0], "offer A's third conversion reaches the band")
	fourth := conv(offerB)
	requireAmount(t, "2", b.payouts([]int64{fourth}, "2")[0], "offer B's own third")

	var cycles struct {
		Items []struct {
			OfferID int64 `json:"offer_id"`
			Metrics struct {
				Conversions int `json:"conversions"`
			} `json:"metrics"`
		} `json:"items"`
	}
	b.mustDo(http.StatusOK, http.MethodGet, "/commission-cycles", nil, &cycles)
	require.Len(t, cycles.Items, 2, "one cycle per offer")
	for _, c := range cycles.Items {
		require.Equal(t, 3, c.Metrics.Conversions, "offer %d", c.OfferID)
	}
}

func TestRetroactiveCustomMode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", cpaRPA("10.00", "20.00"))
	partner := b.partner(nil)
	b.tieredRule(map[string]any{
		"name": "Custom retro", "offer_ids": []int64{offer}, "applies_to": "base", "start_date": "2020-01-01", "period": "monthly",
		"retro_mode": "custom",
		"bands": []map[string]any{{"name": "Over 3", "bounds": bounds("conversions", "3"),
			"payout":       map[string]any{"action": "increase", "by": "percent", "value": "50"},
			"retro_payout": map[string]any{"action": "increase", "by": "percent", "value": "10"}}},
	})
	var ids []int64
	for i := range 3 {
		ids = append(ids, b.send(map[string]string{"token": adv.Token, "offer_id": id(offer), "partner_id": id(partner), "user_id": fmt.Sprint("u", i)}))
	}
	b.payouts(ids, "30")
	ids = append(ids, b.send(map[string]string{"token": adv.Token, "offer_id": id(offer), "partner_id": id(partner), "user_id": "u3"}))
	got := b.payouts(ids, "48") // 3 × 11 retro + 15
	for i := range 3 {
		requireAmount(t, "11", got[i], "earlier conversion", i+1, "gets the band's retroactive adjustment")
	}
	requireAmount(t, "15", got[3], "the conversion that reached the band gets the band's adjustment")
}

func TestRetroactiveSkipsPaid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", cpaRPA("10.00", "20.00"))
	partner := b.partner(nil)
	b.tieredRule(map[string]any{
		"name": "Double after 3", "offer_ids": []int64{offer}, "applies_to": "base", "start_date": "2020-01-01", "period": "monthly",
		"retro_mode": "enabled",
		"bands": []map[string]any{{"name": "Over 3", "bounds": bounds("conversions", "3"),
			"payout": map[string]any{"action": "set", "rate": "fixed", "value": "20"}}},
	})
	send := func(i int) int64 {
		return b.send(map[string]string{"token": adv.Token, "offer_id": id(offer), "partner_id": id(partner), "user_id": fmt.Sprint("u", i)})
	}
	paid := []int64{send(0), send(1)}
	b.payouts(paid, "20")
	var run struct {
		Total string `json:"total"`
	}
	b.mustDo(http.StatusCreated, http.MethodPost, "/payout-runs", map[string]any{"partner_id": partner, "cutoff": time.Now().UTC().Format(time.DateOnly)}, &run)
	require.Equal(t, "20", run.Total)

	unpaid := []int64{send(2)}
	b.payouts(unpaid, "10")
	reaching := send(3)
	all := append(append(paid, unpaid...), reaching)
	got := b.payouts(all, "60") // 10 + 10 paid, unpaid 10 → 20, the fourth 20
	requireAmount(t, "10", got[0], "paid conversions are never re-banded")
	requireAmount(t, "10", got[1])
	requireAmount(t, "20", got[2], "the unpaid one is re-priced")
	requireAmount(t, "20", got[3])

	var lines int
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM ledger_lines WHERE conversion_id = ANY($1) AND reason = 'retro'`, paid).Scan(&lines))
	require.Zero(t, lines)
}

func TestTieredRuleValidationOverHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var body struct {
		Error struct {
			Problems []struct {
				Field string `json:"field"`
			} `json:"problems"`
		} `json:"error"`
	}
	status := b.do(http.MethodPost, "/tiered-commissions", map[string]any{
		"name": "Overlap", "offer_ids": []int64{1}, "applies_to": "base", "start_date": "2020-01-01", "period": "monthly",
		"bands": []map[string]any{
			{"name": "A", "bounds": []map[string]any{{"metric": "conversions", "min": "0", "max": "100"}}},
			{"name": "B", "bounds": []map[string]any{{"metric": "conversions", "min": "50"}}},
		},
	}, &body)
	require.Equal(t, http.StatusBadRequest, status)
	require.NotEmpty(t, body.Error.Problems)
	require.Contains(t, body.Error.Problems[0].Field, "bands")
}

// cycleRow reads one commission cycle's state.
func (b *testBundle) cycleRow(periodStart time.Time) (conversions int64, sale decimal.Decimal, band int, closed bool) {
	b.t.Helper()
	var closedAt *time.Time
	require.NoError(b.t, b.pool.QueryRow(context.Background(), `SELECT conversions, sale_amount, band, closed_at
		FROM commission_cycles WHERE period_start = $1`, periodStart).Scan(&conversions, &sale, &band, &closedAt))
	return conversions, sale, band, closedAt != nil
}

// TestBackdatedConversionClosedPeriod: a backdated conversion into a period
// whose cycle is closed is counted, priced at the band it reaches and the
// period re-priced, as a live arrival (DESIGN §13.19), without reopening
// the closed cycle's workflow.
func TestBackdatedConversionClosedPeriod(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", cpaRPA("10.00", "20.00"))
	partner := b.partner(nil)
	b.tieredRule(map[string]any{
		"name": "Monthly", "offer_ids": []int64{offer}, "applies_to": "base", "start_date": "2020-01-01", "period": "monthly",
		"retro_mode": "enabled",
		"bands": []map[string]any{{"name": "Over 1", "bounds": bounds("conversions", "1"),
			"payout": map[string]any{"action": "set", "rate": "fixed", "value": "15"}}},
	})
	lastMonth := time.Date(2024, 5, 10, 12, 0, 0, 0, time.UTC)
	periodStart := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	send := func(user string) int64 {
		return b.send(map[string]string{"token": adv.Token, "offer_id": id(offer), "partner_id": id(partner),
			"user_id": user, "timestamp": lastMonth.Format(time.RFC3339)})
	}
	first := send("u1")
	b.payouts([]int64{first}, "10")
	// The period is over: its workflow's timer closes the cycle at once.
	require.Eventually(t, func() bool { _, _, _, closed := b.cycleRow(periodStart); return closed }, 20*time.Second, 50*time.Millisecond)
	wid := fmt.Sprintf("cycle/1/%d/%d/%s", partner, offer, periodStart.Format(time.RFC3339))
	tc := b.temporal.Client()
	desc, err := tc.DescribeWorkflowExecution(context.Background(), wid, "")
	require.NoError(t, err)
	runID := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()

	// A backdated conversion reaches the band of the closed period: it is
	// priced at the band and the earlier one re-priced, as a live arrival.
	second := send("u2")
	got := b.payouts([]int64{first, second}, "30")
	requireAmount(t, "15", got[0])
	requireAmount(t, "15", got[1])
	n, _, band, closed := b.cycleRow(periodStart)
	require.Equal(t, int64(2), n)
	require.Equal(t, 0, band)
	require.True(t, closed)

	desc, err = tc.DescribeWorkflowExecution(context.Background(), wid, "")
	require.NoError(t, err)
	require.Equal(t, runID, desc.GetWorkflowExecutionInfo().GetExecution().GetRunId(), "the closed cycle's workflow is not reopened")
}

func TestRefundsAndReversalsReduceMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", event{Payout: rate{Type: "cps", Percent: "10"}, Revenue: rate{Type: "rps", Percent: "20"}})
	partner := b.partner(nil)
	b.tieredRule(map[string]any{
		"name": "Big sales", "offer_ids": []int64{offer}, "applies_to": "base", "start_date": "2020-01-01", "period": "global",
		"bands": []map[string]any{{"name": "Over 150", "bounds": bounds("sale_amount", "150"),
			"payout": map[string]any{"action": "increase", "by": "percent", "value": "50"}}},
	})
	first := b.convert(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner), "user_id", "u1", "amount", "100"))
	requireAmount(t, "10", first.Payout)
	second := b.convert(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner), "user_id", "u2", "amount", "100"))
	requireAmount(t, "15", second.Payout, "200 > 150: the band's +50%")
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	n, sale, band, _ := b.cycleRow(start)
	require.Equal(t, int64(2), n)
	requireAmount(t, "200", sale)
	require.Equal(t, 0, band)

	// A partial refund: sums reduced, counts unchanged, the percentage part
	// of the tiered line follows.
	var refunded struct {
		Conversion struct {
			Payout string `json:"payout"`
		} `json:"conversion"`
	}
	b.mustDo(http.StatusCreated, http.MethodPost, "/refunds", map[string]any{"conversion_id": second.ID, "sale_amount": "40"}, &refunded)
	require.Equal(t, "9", refunded.Conversion.Payout, "10% × 60 = 6, +50% = 9")
	n, sale, band, _ = b.cycleRow(start)
	require.Equal(t, int64(2), n)
	requireAmount(t, "160", sale)

	// A reversal takes the conversion out; the band reached is kept.
	b.mustDo(http.StatusOK, http.MethodPost, "/reversals", map[string]any{"conversion_id": first.ID}, nil)
	n, sale, band, _ = b.cycleRow(start)
	require.Equal(t, int64(1), n)
	requireAmount(t, "60", sale)
	require.Equal(t, 0, band, "a band reached is kept for the period")
	third := b.convert(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner), "user_id", "u3", "amount", "10"))
	requireAmount(t, "1.5", third.Payout, "priced at the high-water band though the sum is now 70")
}

func TestSafetyNetClosesEndedCycles(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", cpaRPA("10.00", "20.00"))
	partner := b.partner(nil)
	rule := b.tieredRule(map[string]any{
		"name": "Daily", "offer_ids": []int64{offer}, "applies_to": "base", "start_date": "2020-01-01", "period": "daily",
		"bands": []map[string]any{{"name": "Any", "bounds": bounds("conversions", ""),
			"payout": map[string]any{"action": "increase", "by": "flat", "value": "1"}}},
	})
	// A cycle whose period ended and whose workflow never ran.
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err := b.pool.Exec(ctx, `INSERT INTO commission_cycles (rule_id, partner_id, offer_id, period_start, period_end)
		VALUES ($1, $2, $3, $4, $5)`, rule, partner, offer, start, start.AddDate(0, 0, 1))
	require.NoError(t, err)

	tc := b.temporal.Client()
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: worker.TaskQueue}, workflows.CloseEndedCycles)
	require.NoError(t, err)
	var closed int
	require.NoError(t, run.Get(ctx, &closed))
	require.Equal(t, 1, closed)
	_, _, _, isClosed := b.cycleRow(start)
	require.True(t, isClosed)

	// The schedule that runs it exists (TestSafetyNetScheduleUpdated checks its spec).
	_, err = tc.ScheduleClient().GetHandle(ctx, workflows.CloseEndedCyclesSchedule).Describe(ctx)
	require.NoError(t, err)
}

// monthStart is the start of the current month in UTC, RFC 3339.
func monthStart() string {
	now := time.Now().UTC()
	return time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)
}

// TestRetroactiveKeepsOverride: a Customer Value override replaces layers
// 1–4 (DESIGN.md §13.7), so a retroactive re-pricing that comes after it
// leaves the overridden payout alone; the revenue, which the override does
// not set, still goes to the band.
func TestRetroactiveKeepsOverride(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", cpaRPA("10.00", "20.00"))
	partner := b.partner(nil)
	b.tieredRule(map[string]any{
		"name": "Double after 3", "offer_ids": []int64{offer}, "applies_to": "base", "start_date": "2020-01-01", "period": "monthly",
		"retro_mode": "enabled",
		"bands": []map[string]any{{"name": "Over 3", "bounds": bounds("conversions", "3"),
			"payout":  map[string]any{"action": "set", "rate": "fixed", "value": "20"},
			"revenue": map[string]any{"action": "increase", "by": "flat", "value": "1"}}},
	})
	b.revShareOverride("RevShare", partner, offer)
	send := func(user, amount string) int64 {
		return b.send(map[string]string{"token": adv.Token, "offer_id": id(offer), "partner_id": id(partner), "user_id": user, "amount": amount})
	}
	early := []int64{send("c1", "200"), send("c2", "300"), send("c3", "300")}
	b.payouts(early, "80") // 10% of each sale
	reaching := send("c4", "300")
	got := b.payouts(append(early, reaching), "110")
	requireAmount(t, "20", got[0], "the override's 10% of 200 stands after the band is reached")
	requireAmount(t, "30", got[3])

	// The re-pricing did run: each early conversion got its revenue delta
	// and the band, and no retroactive payout line.
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM conversions
			WHERE id = ANY($1) AND tiered_band = 0 AND revenue = 21`, early).Scan(&n))
		return n == len(early)
	}, 20*time.Second, 50*time.Millisecond, "early conversions re-priced to the band's revenue")
	var payoutLines int
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM ledger_lines WHERE conversion_id = ANY($1) AND reason = 'retro' AND kind = 'payout'`, early).Scan(&payoutLines))
	require.Zero(t, payoutLines)
	for i, cid := range early {
		c, err := b.store.Conversion(context.Background(), cid)
		require.NoError(t, err)
		requireAmount(t, []string{"20", "30", "30"}[i], c.Payout, "conversion %d keeps its override", cid)
	}
}
