package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

// The what-if preview against going live: one script of postbacks, refunds,
// reversals, status changes and a payout run is played in a world without
// the draft rule, where the rule is previewed, and again in a fresh world
// (its own database, Temporal server and worker) where the rule is live
// from the start. The preview's figures must be the second world's ledger,
// to the cent.

// whatIfStep is one step of the script: a postback (name set), or something
// done to the conversion of an earlier step, or a payout run.
type whatIfStep struct {
	name    string // the postback's label, for later steps to name it
	user    string
	partner int // index in whatIfWorld.partners
	offer   int // index in whatIfWorld.offers
	event   string
	sale    string
	geo     string
	at      time.Time // zero: an hour after the previous postback of the script
	pending bool      // sent with status=pending

	refund  string // refund this step's conversion...
	by      string // ...by this sale amount
	reverse string // reverse this step's conversion
	approve string // approve this step's pending conversion
	reject  string // reject this step's approved conversion (its lines are reversed)
	pay     *int   // a payout run for this partner of everything so far
}

func step(name, user string, partner, offer int, event, sale, geo string) whatIfStep {
	return whatIfStep{name: name, user: user, partner: partner, offer: offer, event: event, sale: sale, geo: geo}
}

// backdated is a postback of a long time ago, sent now.
func backdated(s whatIfStep, at time.Time) whatIfStep {
	s.at = at
	return s
}

func pendingStep(s whatIfStep) whatIfStep {
	s.pending = true
	return s
}

func approveStep(name string) whatIfStep { return whatIfStep{approve: name} }
func rejectStep(name string) whatIfStep  { return whatIfStep{reject: name} }

func payStep(partner int) whatIfStep { return whatIfStep{pay: &partner} }

func refundStep(name, sale string) whatIfStep { return whatIfStep{refund: name, by: sale} }
func reverseStep(name string) whatIfStep      { return whatIfStep{reverse: name} }

// Offer A (Customer Value's scope, and the RevShare override's) pays 2.00 +
// 5% of the sale on a sign-up and 10% of a deposit; offer B pays 5.00 a
// sign-up and 1.00 a trade.
const (
	offerA = iota
	offerB
)

// whatIfScript is 40 postbacks for four partners, eight customers and two
// conversions without one, with four refunds, four reversals, a pending
// conversion approved later, an approved one rejected and a payout run. It
// holds what makes a replay that ignores time wrong: reversals and refunds
// that take a partner's metric back below a band it reached, after later
// conversions in that band; a payout between two bands; a refund after the
// conversion that completed a customer's goal; reversals of the conversion
// that got a once-per-customer bonus, once with no later conversion of the
// customer, once with later ones that would have completed the goal without
// it; and a customer whose postbacks arrive long after their 30-day window
// ended, so their workflow no longer counts them.
var whatIfScript = []whatIfStep{
	backdated(step("old-signup", "old", 2, offerA, "", "100", "EU1"), time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)),
	backdated(step("old-dep1", "old", 2, offerA, "deposit", "400", ""), time.Date(2025, 5, 10, 10, 0, 0, 0, time.UTC)),
	step("u1-signup", "u1", 0, offerA, "", "100", "EU1"),
	step("u1-dep1", "u1", 0, offerA, "deposit", "150", ""),
	step("u2-signup", "u2", 1, offerA, "", "50", "EU1"),
	step("u5-signup", "u5", 1, offerB, "", "40", ""),
	step("u4-signup", "u4", 0, offerA, "", "60", "US"),
	step("u4-dep1", "u4", 0, offerA, "deposit", "500", ""),
	step("u3-signup", "u3", 2, offerA, "", "80", "EU1"),
	payStep(0), // partner 0's conversions so far, in Silver on offer A, are paid: Gold will not re-price them
	step("u1-dep2", "u1", 0, offerA, "deposit", "120", ""), // u1 spent 370: the bonus
	step("u2-dep1", "u2", 1, offerA, "deposit", "50", ""),
	step("u5-trade1", "u5", 1, offerB, "trade", "30", ""),
	step("anon-signup", "", 3, offerB, "", "0", ""),
	step("u3-dep1", "u3", 2, offerA, "deposit", "300", ""),
	step("u6-signup", "u6", 3, offerA, "", "100", "EU1"),
	step("u2-dep2", "u2", 3, offerA, "deposit", "200", ""),
	step("u1-dep3", "u1", 0, offerA, "deposit", "90", ""),
	refundStep("u3-dep1", "150"),
	step("u7-signup", "u7", 0, offerA, "", "100", "EU1"),
	step("u7-dep1", "u7", 0, offerA, "deposit", "250", ""), // u7 spent 350: the bonus, to partner 0
	step("u6-dep1", "u6", 3, offerA, "deposit", "250", ""), // u6 spent 350: the bonus
	step("anon-dep", "", 0, offerA, "deposit", "75", ""),
	step("u4-dep2", "u4", 0, offerA, "deposit", "80", ""),
	step("u7-dep2", "u7", 1, offerA, "deposit", "250", ""),
	reverseStep("u4-dep1"),
	reverseStep("u7-dep1"), // the bonus is re-armed, and no later conversion of u7 gets it
	pendingStep(step("u5-trade2", "u5", 1, offerB, "trade", "10", "")),
	step("u5-signup-b", "u5b", 1, offerB, "", "20", ""),
	step("u1-dep4", "u1", 0, offerA, "deposit", "60", ""),
	step("u6-dep2", "u6", 3, offerA, "deposit", "20", ""),
	refundStep("u1-dep2", "100"), // after the bonus: it stays
	step("u3-dep2", "u3", 2, offerA, "deposit", "200", ""),
	step("u2-signup-b", "u2", 3, offerB, "", "70", ""),
	step("u6-dep3", "u6", 3, offerA, "deposit", "450", ""), // partner 3 past 1,000 on offer A: Gold
	reverseStep("u6-dep1"),                                 // 770 left, but Gold stays
	step("u1-dep5", "u1", 0, offerA, "deposit", "400", ""),
	approveStep("u5-trade2"),
	rejectStep("u1-dep4"),
	step("u4-dep3", "u4", 0, offerA, "deposit", "700", ""),
	step("u3-dep3", "u3", 2, offerA, "deposit", "90", ""),
	step("u2-dep3", "u2", 1, offerA, "deposit", "300", ""), // partner 1 at 650 on offer A: Silver; u2's bonus, to partner 1
	step("u6-dep4", "u6", 3, offerA, "deposit", "60", ""),  // u6's bonus again, on the cycle net of the reversal
	refundStep("u2-dep3", "250"),                           // partner 1 back to 400, but Silver stays
	refundStep("u4-dep3", "300"),
	reverseStep("anon-dep"),
	step("u5-trade3", "u5", 1, offerB, "trade", "25", ""),
	step("u7-dep3", "u7", 0, offerA, "deposit", "40", ""),
	step("u1-dep6", "u1", 0, offerA, "deposit", "110", ""),
	step("u3-dep4", "u3", 2, offerA, "deposit", "500", ""),
	step("u2-dep4", "u2", 3, offerA, "deposit", "150", ""),
}

// whatIfFrom is the first day of the preview's range, before every
// postback of the script.
const whatIfFrom = "2025-01-01"

// whatIfWorld is one database, Temporal server and worker with the network
// the script runs in.
type whatIfWorld struct {
	*testBundle
	adv         advertiser
	offers      [2]int64
	partners    [4]int64
	conversions map[string]int64
	first       time.Time // the script's first postback that is not backdated
}

// newWhatIfWorld sets up the network: two offers, four partners, the geo
// data point, and two rules live in both worlds (a tiered rule naming
// partner 1 on offer B, which beats any rule for all partners there, and a
// RevShare override for partner 2 on offer A); then live adds the rule
// that is live from the start in this world, if any.
func newWhatIfWorld(t *testing.T, first time.Time, live func(w *whatIfWorld)) *whatIfWorld {
	w := &whatIfWorld{testBundle: setup(t), conversions: map[string]int64{}, first: first}
	w.adv = w.advertiser()
	w.offers[offerA] = w.offer(w.adv.ID, "public",
		event{Payout: rate{Type: "cpa_cps", Amount: "2.00", Percent: "5"}, Revenue: rate{Type: "rps", Percent: "20"}},
		event{Event: "deposit", Payout: rate{Type: "cps", Percent: "10"}, Revenue: rate{Type: "rps", Percent: "25"}, Repeatable: true})
	w.offers[offerB] = w.offer(w.adv.ID, "public", cpaRPA("5.00", "8.00"),
		event{Event: "trade", Payout: rate{Type: "cpa", Amount: "1.00"}, Revenue: rate{Type: "rpa", Amount: "2.00"}, Repeatable: true})
	for i := range w.partners {
		w.partners[i] = w.partner(map[string]any{"name": fmt.Sprint("Partner ", i)})
	}
	w.mustDo(http.StatusCreated, http.MethodPost, "/data-points", map[string]any{"name": "Geo", "identifier": "geo", "type": "text"}, nil)
	w.tieredRule(map[string]any{
		"name": "Partner 1 on B", "partner_ids": []int64{w.partners[1]}, "offer_ids": []int64{w.offers[offerB]},
		"applies_to": "base", "start_date": "2020-01-01", "period": "monthly",
		"bands": []map[string]any{{"name": "From the third", "bounds": bounds("conversions", "2"),
			"payout": map[string]any{"action": "set", "rate": "fixed", "value": "7"}}},
	})
	w.valueRule(map[string]any{
		"name": "Partner 2 RevShare", "applies_on": "all", "starts_at": "2020-01-01T00:00:00Z",
		"partner_ids": []int64{w.partners[2]}, "offer_ids": []int64{w.offers[offerA]},
		"timeframe": map[string]any{"cycle": "continuous", "anchor": "first_conversion", "duration_days": 30},
		"grouping":  "all",
		"outcome": map[string]any{"frequency": "every_conversion", "trigger": "instant", "kind": "override",
			"payout": map[string]any{"type": "revshare", "percent": "12"}},
	})
	if live != nil {
		live(w)
	}
	return w
}

// play runs the script, one step at a time: each waits until the world has
// no pending work, so both worlds see the steps in the same order.
func (w *whatIfWorld) play(script []whatIfStep) {
	w.t.Helper()
	n := 0
	for _, s := range script {
		switch {
		case s.refund != "":
			w.mustDo(http.StatusCreated, http.MethodPost, "/refunds", map[string]any{"conversion_id": w.conversions[s.refund], "sale_amount": s.by}, nil)
		case s.reverse != "":
			w.mustDo(http.StatusOK, http.MethodPost, "/reversals", map[string]any{"conversion_id": w.conversions[s.reverse]}, nil)
		case s.approve != "":
			w.mustDo(http.StatusOK, http.MethodPatch, fmt.Sprintf("/conversions/%d", w.conversions[s.approve]), map[string]any{"status": "approved"}, nil)
		case s.pay != nil:
			w.mustDo(http.StatusCreated, http.MethodPost, "/payout-runs",
				map[string]any{"partner_id": w.partners[*s.pay], "cutoff": w.first.Add(time.Duration(n) * time.Hour).Format(time.DateOnly)}, nil)
		case s.reject != "":
			w.mustDo(http.StatusOK, http.MethodPatch, fmt.Sprintf("/conversions/%d", w.conversions[s.reject]), map[string]any{"status": "rejected"}, nil)
		default:
			at := s.at
			if at.IsZero() {
				at = w.first.Add(time.Duration(n) * time.Hour)
				n++
			}
			p := map[string]string{"token": w.adv.Token, "offer_id": id(w.offers[s.offer]), "partner_id": id(w.partners[s.partner]),
				"amount": s.sale, "order_id": s.name, "timestamp": at.Format(time.RFC3339)}
			if s.user != "" {
				p["user_id"] = s.user
			}
			if s.pending {
				p["status"] = "pending"
			}
			if s.event != "" {
				p["event"] = s.event
			}
			if s.geo != "" {
				p["geo"] = s.geo
			}
			w.conversions[s.name] = w.send(p)
		}
		w.settle()
	}
}

// settle waits until every conversion is priced, seen by the customer's
// rules and re-priced to its cycle's band, and every lifecycle signal is
// delivered.
func (w *whatIfWorld) settle() {
	w.t.Helper()
	ids := make([]int64, 0, len(w.conversions))
	for _, cid := range w.conversions {
		ids = append(ids, cid)
	}
	w.waitSettled(ids...)
	require.Eventually(w.t, func() bool {
		var n int
		require.NoError(w.t, w.pool.QueryRow(context.Background(), `SELECT count(*) FROM lifecycle_signals WHERE sent_at IS NULL`).Scan(&n))
		return n == 0
	}, 30*time.Second, 20*time.Millisecond, "every lifecycle signal is delivered")
}

// ledger sums the payout lines per partner index and in all, and counts the
// non-zero payout lines per reason, straight from the ledger.
func (w *whatIfWorld) ledger() (perPartner [4]decimal.Decimal, total decimal.Decimal, lines map[string]int) {
	w.t.Helper()
	rows, err := w.pool.Query(context.Background(), `SELECT c.partner_id, coalesce(sum(l.amount), 0) FROM conversions c
		JOIN ledger_lines l ON l.conversion_id = c.id AND l.kind = 'payout' GROUP BY c.partner_id`)
	require.NoError(w.t, err)
	defer rows.Close()
	for rows.Next() {
		var partner int64
		var sum decimal.Decimal
		require.NoError(w.t, rows.Scan(&partner, &sum))
		i := w.partnerIndex(partner)
		perPartner[i] = sum
		total = total.Add(sum)
	}
	require.NoError(w.t, rows.Err())
	lines = map[string]int{}
	rows, err = w.pool.Query(context.Background(), `SELECT reason, count(*) FROM ledger_lines WHERE kind = 'payout' AND amount <> 0 GROUP BY reason`)
	require.NoError(w.t, err)
	defer rows.Close()
	for rows.Next() {
		var reason string
		var n int
		require.NoError(w.t, rows.Scan(&reason, &n))
		lines[reason] = n
	}
	require.NoError(w.t, rows.Err())
	return perPartner, total, lines
}

func (w *whatIfWorld) partnerIndex(partner int64) int {
	w.t.Helper()
	for i, p := range w.partners {
		if p == partner {
			return i
		}
	}
	w.t.Fatalf("partner %d is none of the world's", partner)
	return -1
}

// whatIfResult is the part of a preview's answer the test compares.
type whatIfResult struct {
	Conversions int  `json:"conversions"`
	Reversed    int  `json:"reversed"`
	Truncated   bool `json:"truncated"`
	Changed     int  `json:"changed"`
	Totals      []struct {
		Currency       string          `json:"currency"`
		LedgerPayout   decimal.Decimal `json:"ledger_payout"`
		PreviewPayout  decimal.Decimal `json:"preview_payout"`
		BaselinePayout decimal.Decimal `json:"baseline_payout"`
		Difference     decimal.Decimal `json:"difference"`
	} `json:"totals"`
	Partners []struct {
		PartnerID     int64           `json:"partner_id"`
		LedgerPayout  decimal.Decimal `json:"ledger_payout"`
		PreviewPayout decimal.Decimal `json:"preview_payout"`
		Difference    decimal.Decimal `json:"difference"`
		DraftEffect   decimal.Decimal `json:"draft_effect"`
	} `json:"partners"`
	Drift struct {
		Conversions int                        `json:"conversions"`
		Payout      map[string]decimal.Decimal `json:"payout"`
	} `json:"drift"`
}

// TestWhatIfMatchesGoingLive previews a draft Tiered Commissions rule and a
// draft Customer Value rule over the script's conversions, then plays the
// same script in a fresh world where the rule is live from the start: the
// preview's totals with the rule, per partner and in all, are that world's
// ledger to the cent, and its difference is the difference of the two
// ledgers.
func TestWhatIfMatchesGoingLive(t *testing.T) {
	t.Parallel()
	// Volume on both offers for all partners, by sale amount per month,
	// re-priced retroactively.
	volume := func(w *whatIfWorld) map[string]any {
		return map[string]any{
			"name": "Volume", "offer_ids": []int64{w.offers[offerA], w.offers[offerB]}, "applies_to": "all",
			"start_date": "2020-01-01", "period": "monthly", "retro_mode": "enabled",
			"bands": []map[string]any{
				{"name": "Silver", "bounds": []map[string]any{{"metric": "sale_amount", "min": "400", "max": "1000"}},
					"payout": map[string]any{"action": "increase", "by": "percent", "value": "10"}},
				{"name": "Gold", "bounds": bounds("sale_amount", "1000"),
					"payout":  map[string]any{"action": "increase", "by": "flat", "value": "1.50"},
					"revenue": map[string]any{"action": "decrease", "by": "percent", "value": "5"}},
			},
		}
	}
	// 10% of what an EU1 customer spent in their first 30 days, once they
	// spent more than 300 on offer A, to the partner of the conversion that
	// got them there.
	highSpender := func(w *whatIfWorld) map[string]any {
		return map[string]any{
			"name": "High spender", "applies_on": "all", "starts_at": "2020-01-01T00:00:00Z",
			"offer_ids": []int64{w.offers[offerA]},
			"timeframe": map[string]any{"cycle": "continuous", "anchor": "first_conversion", "duration_days": 30},
			"grouping":  "all",
			"conditions": []map[string]any{
				{"source": "geo", "aggregation": "any", "operator": "eq", "value": "EU1"},
				{"source": "sale_amount", "aggregation": "sum", "operator": "gt", "value": "300"},
			},
			"outcome": map[string]any{"frequency": "once_per_customer", "trigger": "instant", "kind": "bonus",
				"payout": map[string]any{"type": "percent", "percent": "10", "base": "sale_amount"}},
		}
	}

	// The script's postbacks but the backdated ones are an hour apart,
	// ending now, or before this month when it began less than two days ago,
	// so that they share one monthly period whatever the day; both worlds
	// send the same timestamps.
	end := time.Now().UTC().Truncate(time.Second)
	if month := time.Date(end.Year(), end.Month(), 1, 0, 0, 0, 0, time.UTC); end.Sub(month) < 48*time.Hour {
		end = month.Add(-time.Hour)
	}
	first := end.Add(-time.Duration(len(whatIfScript)) * time.Hour)
	draft := newWhatIfWorld(t, first, nil)
	draft.play(whatIfScript)
	reversals := 0
	for _, s := range whatIfScript {
		if s.reverse != "" || s.reject != "" {
			reversals++
		}
	}

	for _, tc := range []struct {
		name  string
		path  string // the preview route
		live  string // the route that makes the rule live
		rule  func(w *whatIfWorld) map[string]any
		lines string // the ledger reason the rule writes
	}{
		{"TieredCommissions", "/tiered-commissions/preview", "/tiered-commissions", volume, "retro"},
		{"CustomerValue", "/customer-value-rules/preview", "/customer-value-rules", highSpender, "bonus"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var res whatIfResult
			draft.mustDo(http.StatusOK, http.MethodPost, tc.path, map[string]any{"rule": tc.rule(draft), "from": whatIfFrom}, &res)

			var rule int64
			live := newWhatIfWorld(t, first, func(w *whatIfWorld) {
				if tc.live == "/customer-value-rules" {
					rule = w.valueRule(tc.rule(w))
				} else {
					rule = w.tieredRule(tc.rule(w))
				}
			})
			live.play(whatIfScript)
			live.waitCaughtUp(live.adv.ID, "old", "u1", "u2", "u3", "u4", "u5", "u5b", "u6", "u7")

			before, beforeTotal, _ := draft.ledger()
			after, afterTotal, lines := live.ledger()

			require.False(t, res.Truncated)
			require.Equal(t, len(draft.conversions), res.Conversions+res.Reversed, "every conversion of the range is replayed")
			require.Equal(t, reversals, res.Reversed)
			require.Zero(t, res.Drift.Conversions, "without the draft the replay is the ledger: %v", res.Drift.Payout)

			got := map[int]int{}
			changed := 0
			for _, p := range res.Partners {
				i := draft.partnerIndex(p.PartnerID)
				got[i]++
				require.True(t, before[i].Equal(p.LedgerPayout), "partner %d: the preview's ledger %s, the ledger %s", i, p.LedgerPayout, before[i])
				require.True(t, after[i].Equal(p.PreviewPayout), "partner %d: the preview says %s with the rule, going live paid %s", i, p.PreviewPayout, after[i])
				require.True(t, after[i].Sub(before[i]).Equal(p.Difference), "partner %d: the preview's difference %s, going live's %s", i, p.Difference, after[i].Sub(before[i]))
				if !p.DraftEffect.IsZero() {
					changed++
				}
			}
			for i := range draft.partners {
				require.Equal(t, 1, got[i], "partner %d has one line in the preview", i)
			}
			require.GreaterOrEqual(t, changed, 2, "the rule changes what several partners earn")
			require.Positive(t, lines[tc.lines], "going live wrote %s lines", tc.lines)

			require.Len(t, res.Totals, 1)
			require.Equal(t, "USD", res.Totals[0].Currency)
			require.True(t, beforeTotal.Equal(res.Totals[0].LedgerPayout), "ledger %s, preview's ledger %s", beforeTotal, res.Totals[0].LedgerPayout)
			require.True(t, afterTotal.Equal(res.Totals[0].PreviewPayout), "going live paid %s in all, the preview says %s", afterTotal, res.Totals[0].PreviewPayout)
			require.False(t, res.Totals[0].Difference.IsZero())

			// Where the rule is live, previewing it as it is predicts
			// nothing new: the replay is that world's ledger.
			var again whatIfResult
			live.mustDo(http.StatusOK, http.MethodPost, tc.path, map[string]any{"rule_id": rule, "from": whatIfFrom}, &again)
			require.Zero(t, again.Drift.Conversions, "the replay of the live world is its ledger: %v", again.Drift.Payout)
			require.Zero(t, again.Changed)
			require.Len(t, again.Partners, len(live.partners))
			for _, p := range again.Partners {
				i := live.partnerIndex(p.PartnerID)
				require.True(t, after[i].Equal(p.LedgerPayout), "partner %d: the preview's ledger %s, the ledger %s", i, p.LedgerPayout, after[i])
				require.True(t, after[i].Equal(p.PreviewPayout), "partner %d: the preview says %s, the ledger %s", i, p.PreviewPayout, after[i])
			}
		})
	}
}
