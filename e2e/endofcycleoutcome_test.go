package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/testsuite"

	"github.com/tierwise/tierwise/activities"
	"github.com/tierwise/tierwise/workflows"
)

// endOfCycleRule creates a Customer Value rule on deposits that pays, at
// the end of the cycle, 10% of the cycle's revenue once the cycle's
// deposits sum to $50.
func (b *testBundle) endOfCycleRule(timeframe map[string]any, endsAt *time.Time) {
	b.t.Helper()
	rule := map[string]any{
		"name": "Deposits this cycle", "applies_on": "event", "event": "deposit", "starts_at": "2020-01-01T00:00:00Z",
		"timeframe":  timeframe,
		"grouping":   "all",
		"conditions": []map[string]any{{"source": "sale_amount", "aggregation": "sum", "operator": "gte", "value": "50"}},
		"outcome": map[string]any{"frequency": "once_per_cycle", "trigger": "end_of_cycle", "kind": "bonus",
			"payout": map[string]any{"type": "percent", "percent": "10", "base": "revenue"}},
	}
	if endsAt != nil {
		rule["ends_at"] = endsAt.Format(time.RFC3339Nano)
	}
	b.valueRule(rule)
}

// bonusLine is a Customer Value bonus in the ledger.
type bonusLine struct {
	ConversionID int64
	Amount       string
}

// bonusLines returns every bonus line of the ledger.
func (b *testBundle) bonusLines() []bonusLine {
	b.t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT conversion_id, trim_scale(amount)::text FROM ledger_lines
		WHERE reason = 'bonus' ORDER BY id`)
	require.NoError(b.t, err)
	lines, err := pgx.CollectRows(rows, pgx.RowToStructByPos[bonusLine])
	require.NoError(b.t, err)
	return lines
}

// TestEndOfCycleOutcome: an end-of-cycle Customer Value bonus is written
// when the cycle's timer fires, exactly once. Deposits pay a $5 CPA and
// earn an $8 RPA; two $30 deposits meet the $50 goal, and the bonus is 10%
// of the cycle's $16 revenue, on the second deposit.
//
//   - TimerFires: the customer's workflow in the SDK's time-skipping
//     environment, with the real activities on the real ledger, in a daily
//     cycle: nothing before the day ends, the bonus at its end, nothing more
//     in the days after, nor from a new run of the lifetime resumed from its
//     snapshot.
//   - AcrossAWorkerRestart: on the real embedded server, a cycle that ends
//     with the rule a few seconds after the deposits; the worker is stopped
//     before the cycle's timer fires and started again after it fired: the
//     bonus is written once, and a second restart, which replays the
//     workflow, writes nothing more.
func TestEndOfCycleOutcome(t *testing.T) {
	t.Parallel()

	t.Run("TimerFires", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// The test environment runs the customer's workflow: the server's
		// copy, which the postbacks start, has no worker.
		b.worker.Stop()
		adv := b.advertiser()
		offer := b.offer(adv.ID, "public", cpaRPA("0", "0"), deposits("5.00", "8.00"))
		partner := b.partner(nil)
		b.endOfCycleRule(map[string]any{"cycle": "daily", "anchor": "rule_start"}, nil)
		now := time.Now().UTC()
		day := now.Truncate(24 * time.Hour) // the network's zone is UTC
		end := day.Add(24 * time.Hour)
		deposit := func(order string, at time.Time) int64 {
			return b.send(map[string]string{"token": adv.Token, "offer_id": id(offer), "partner_id": id(partner),
				"user_id": "eoc-1", "event": "deposit", "order_id": order, "amount": "30", "timestamp": at.Format(time.RFC3339)})
		}
		first, second := deposit("d1", day.Add(time.Minute)), deposit("d2", day.Add(2*time.Minute))

		run := func(start time.Time, conversions []int64, until time.Duration, at map[time.Duration]func()) {
			t.Helper()
			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestWorkflowEnvironment()
			env.SetStartTime(start)
			env.SetTestTimeout(time.Minute)
			workflows.Register(env)
			env.RegisterActivity(activities.New(b.store, b.temporal.Client(), b.logger))
			for i, cid := range conversions {
				env.RegisterDelayedCallback(func() {
					env.SignalWorkflow(workflows.SignalConversion, workflows.ConversionSignal{ConversionID: cid})
				}, time.Duration(i+1)*time.Second)
			}
			for after, f := range at {
				env.RegisterDelayedCallback(f, after)
			}
			env.RegisterDelayedCallback(env.CancelWorkflow, until)
			env.ExecuteWorkflow(workflows.Customer, workflows.NewCustomerState(adv.ID, "eoc-1"))
			require.True(t, env.IsWorkflowCompleted())
		}

		var beforeEnd, afterEnd []bonusLine
		checkedBeforeEnd := false
		run(now, []int64{first, second}, end.Sub(now)+3*24*time.Hour, map[time.Duration]func(){
			end.Sub(now) - time.Second:    func() { beforeEnd, checkedBeforeEnd = b.bonusLines(), true },
			end.Sub(now) + 10*time.Second: func() { afterEnd = b.bonusLines() },
		})
		want := []bonusLine{{second, "1.6"}}
		require.True(t, checkedBeforeEnd)
		require.Empty(t, beforeEnd, "nothing is paid before the day ends")
		require.Equal(t, want, afterEnd, "the day's timer pays 10% of $16 on the deposit that met the goal")
		require.Equal(t, want, b.bonusLines(), "three more days pay nothing more")

		// A lifetime whose workflow ended resumes from its snapshot; the
		// day it settled stays settled.
		later := end.Add(4 * 24 * time.Hour)
		run(later, nil, 2*24*time.Hour, nil)
		require.Equal(t, want, b.bonusLines(), "a run resumed from the snapshot pays nothing again")
	})

	t.Run("AcrossAWorkerRestart", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		adv := b.advertiser()
		offer := b.offer(adv.ID, "public", cpaRPA("0", "0"), deposits("5.00", "8.00"))
		partner := b.partner(nil)
		// The rule's window, and so its one continuous cycle, ends 15 s from
		// now: time to price the deposits and stop the worker.
		endsAt := time.Now().UTC().Add(15 * time.Second).Truncate(time.Second)
		b.endOfCycleRule(map[string]any{"cycle": "continuous", "anchor": "rule_start"}, &endsAt)
		deposit := func(order string) int64 {
			return b.send(map[string]string{"token": adv.Token, "offer_id": id(offer), "partner_id": id(partner),
				"user_id": "eoc-2", "event": "deposit", "order_id": order, "amount": "30"})
		}
		_, second := deposit("d1"), deposit("d2")
		b.waitSettled(second)
		b.worker.Stop()
		require.True(t, time.Now().Before(endsAt), "the deposits took until the cycle's end to be priced: the machine is too slow for this test")

		// The cycle's timer fires in the server while no worker runs.
		wid := workflows.CustomerWorkflowID(adv.ID, "eoc-2")
		c := b.temporal.Client()
		require.Eventually(t, func() bool {
			iter := c.GetWorkflowHistory(context.Background(), wid, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			for iter.HasNext() {
				e, err := iter.Next()
				require.NoError(t, err)
				if e.GetEventType() == enumspb.EVENT_TYPE_TIMER_FIRED {
					return true
				}
			}
			return false
		}, time.Until(endsAt)+30*time.Second, 100*time.Millisecond, "the cycle's timer fired")
		require.Empty(t, b.bonusLines(), "no worker, no bonus yet")

		b.startWorker()
		want := []bonusLine{{second, "1.6"}}
		require.Eventually(t, func() bool { return len(b.bonusLines()) > 0 }, 30*time.Second, 50*time.Millisecond,
			"the restarted worker settles the cycle")
		require.Equal(t, want, b.bonusLines(), "10% of $16, once, on the deposit that met the goal")

		// Another restart: the new worker replays the workflow's history
		// to answer the query, and writes nothing again.
		b.worker.Stop()
		b.startWorker()
		b.waitCaughtUp(adv.ID, "eoc-2")
		require.Equal(t, want, b.bonusLines(), "still once")
	})
}
