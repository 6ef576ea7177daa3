package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/limits"
	"github.com/tierwise/tierwise/workflows"
)

type testBundle struct {
	env      *testsuite.TestWorkflowEnvironment
	priced   []int64
	records  []workflows.CustomerRecord
	recorded []time.Time              // the workflow clock at each record
	saved    *workflows.CustomerState // what LoadCustomer returns
	priceFor func(id int64) workflows.PriceResult
	// rules and rulesVersion are what LoadCustomerValueRules returns: the
	// rules priceFor last reported, and a version that moves with them.
	rules        []customervalue.Rule
	rulesVersion int64
	ruleLoads    int
}

// setup returns a test environment whose PriceConversion records the ids it
// was called with; missing ids fail as not found.
func setup(t *testing.T, missing ...int64) *testBundle {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	b := &testBundle{env: suite.NewTestWorkflowEnvironment()}
	b.env.RegisterWorkflowWithOptions(workflows.Customer, workflow.RegisterOptions{Name: "Customer"})
	b.env.RegisterActivityWithOptions(func(_ context.Context, id int64) (workflows.PriceResult, error) {
		for _, m := range missing {
			if m == id {
				err := errors.New("conversion not found")
				return workflows.PriceResult{}, temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeNotFound, err)
			}
		}
		b.priced = append(b.priced, id)
		if b.priceFor != nil {
			return b.priceFor(id), nil
		}
		return workflows.PriceResult{Priced: true, PartnerID: 7, OfferID: 3, Payout: "1.50"}, nil
	}, activity.RegisterOptions{Name: workflows.PriceConversionActivity})
	// Runs of version 2 price through PriceForCustomer, which reports the
	// configuration version instead of the rules.
	b.env.RegisterActivityWithOptions(func(_ context.Context, req workflows.PriceRequest) (workflows.CustomerPricing, error) {
		id := req.ConversionID
		for _, m := range missing {
			if m == id {
				err := errors.New("conversion not found")
				return workflows.CustomerPricing{}, temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeNotFound, err)
			}
		}
		b.priced = append(b.priced, id)
		res := workflows.PriceResult{Priced: true, PartnerID: 7, OfferID: 3, Payout: "1.50"}
		if b.priceFor != nil {
			res = b.priceFor(id)
		}
		if res.Conversion != nil {
			was, _ := json.Marshal(b.rules)
			now, _ := json.Marshal(res.Rules)
			if b.rulesVersion == 0 || string(was) != string(now) {
				b.rules, b.rulesVersion = res.Rules, b.rulesVersion+1
			}
		}
		return workflows.CustomerPricing{Priced: res.Priced, New: res.Priced, PartnerID: res.PartnerID, OfferID: res.OfferID,
			Payout: decimal.RequireFromString(res.Payout), Conversion: res.Conversion, ConfigVersion: b.rulesVersion, TimeZone: res.TimeZone}, nil
	}, activity.RegisterOptions{Name: workflows.PriceForCustomerActivity})
	b.env.RegisterActivityWithOptions(func(context.Context) (workflows.RuleSet, error) {
		b.ruleLoads++
		return workflows.RuleSet{Version: b.rulesVersion, Rules: b.rules}, nil
	}, activity.RegisterOptions{Name: workflows.LoadCustomerValueRulesActivity})
	b.env.RegisterActivityWithOptions(func(_ context.Context, _ int64, _ string) (*workflows.CustomerState, error) {
		return b.saved, nil
	}, activity.RegisterOptions{Name: workflows.LoadCustomerActivity})
	b.env.RegisterActivityWithOptions(func(_ context.Context, r workflows.CustomerRecord) error {
		b.records = append(b.records, r)
		b.recorded = append(b.recorded, b.env.Now())
		return nil
	}, activity.RegisterOptions{Name: workflows.RecordCustomerActivity})
	return b
}

func (b *testBundle) signal(after time.Duration, id int64) {
	b.env.RegisterDelayedCallback(func() {
		b.env.SignalWorkflow(workflows.SignalConversion, workflows.ConversionSignal{ConversionID: id})
	}, after)
}

func (b *testBundle) state(t *testing.T) workflows.CustomerState {
	t.Helper()
	v, err := b.env.QueryWorkflow(workflows.QueryState)
	require.NoError(t, err)
	var s workflows.CustomerState
	require.NoError(t, v.Get(&s))
	return s
}

func TestCustomerWorkflow(t *testing.T) {
	t.Parallel()

	t.Run("PricesEachConversionOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.signal(time.Second, 1)
		b.signal(2*time.Second, 1)
		b.signal(3*time.Second, 2)
		b.signal(4*time.Second, 1)
		var s workflows.CustomerState
		b.env.RegisterDelayedCallback(func() { s = b.state(t) }, 5*time.Second)
		b.env.SetTestTimeout(time.Minute)
		b.env.RegisterDelayedCallback(func() { b.env.CancelWorkflow() }, 6*time.Second)
		b.env.ExecuteWorkflow(workflows.Customer, workflows.NewCustomerState(1, "42"))

		require.Equal(t, []int64{1, 2}, b.priced)
		require.Equal(t, 2, s.Priced)
		require.Equal(t, int64(7), s.LastPartner)
		require.Equal(t, int64(3), s.LastOffer)
		require.Equal(t, []int64{1, 2}, s.Recent)
	})

	t.Run("AnonymousPricesOneConversionAndCompletes", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.signal(time.Second, 9)
		b.env.ExecuteWorkflow(workflows.Customer, workflows.NewCustomerState(1, ""))
		require.True(t, b.env.IsWorkflowCompleted())
		require.NoError(t, b.env.GetWorkflowError())
		require.Equal(t, []int64{9}, b.priced)
	})

	t.Run("ContinuesAsNewWithItsStateWhenSuggested", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.env.SetContinueAsNewSuggested(true)
		b.signal(time.Second, 5)
		// A run from before versions (regular activities) continues as the
		// newest version.
		b.env.ExecuteWorkflow(workflows.Customer, workflows.CustomerState{AdvertiserID: 1, UserID: "42", Priced: 10, Resumed: true})
		require.True(t, b.env.IsWorkflowCompleted())
		var can *workflow.ContinueAsNewError
		require.ErrorAs(t, b.env.GetWorkflowError(), &can)
		require.Equal(t, "Customer", can.WorkflowType.Name)
		var next workflows.CustomerState
		require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
		require.Equal(t, 11, next.Priced, "the state is carried whole")
		require.Equal(t, []int64{5}, next.Recent)
		require.True(t, next.Resumed)
		require.Equal(t, workflows.CodeVersion, next.Version)
	})

	t.Run("ResumesFromTheSnapshot", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.saved = &workflows.CustomerState{AdvertiserID: 1, UserID: "42", Priced: 7, Recent: []int64{1}, Resumed: true}
		b.signal(time.Second, 1) // priced by the earlier run
		b.signal(2*time.Second, 2)
		var s workflows.CustomerState
		b.env.RegisterDelayedCallback(func() { s = b.state(t) }, 3*time.Second)
		b.env.RegisterDelayedCallback(func() { b.env.CancelWorkflow() }, 4*time.Second)
		b.env.ExecuteWorkflow(workflows.Customer, workflows.NewCustomerState(1, "42"))
		require.Equal(t, []int64{2}, b.priced)
		require.Equal(t, 8, s.Priced)
		require.Equal(t, workflows.CodeVersion, s.Version, "the run keeps its version, not the snapshot's")
	})

	t.Run("CustomerValueBonusIsRecordedOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rule := customervalue.Rule{
			ID: 9, Name: "Level 10", Active: true, AppliesOn: customervalue.AppliesOnAll,
			Timeframe:  customervalue.Timeframe{Cycle: customervalue.CycleContinuous, Anchor: customervalue.AnchorFirstConversion},
			Conditions: []customervalue.Condition{{Source: "level", Type: customervalue.TypeNumber, Aggregation: customervalue.AggAny, Operator: "gte", Value: "10"}},
			Grouping:   customervalue.GroupAll,
			Outcome: customervalue.RuleOutcome{Frequency: customervalue.OncePerCustomer, Trigger: customervalue.TriggerInstant,
				Kind: customervalue.KindBonus, Payout: customervalue.Rate{Type: customervalue.RateFixed, Amount: decimal.NewFromInt(25)}},
		}
		levels := map[int64]string{1: "9", 2: "10", 3: "12"}
		b.priceFor = func(id int64) workflows.PriceResult {
			return workflows.PriceResult{Priced: true, PartnerID: 7, OfferID: 3, Payout: "1", TimeZone: "UTC",
				Rules: []customervalue.Rule{rule},
				Conversion: &customervalue.Conversion{ID: id, PartnerID: 7, OfferID: 3, AdvertiserID: 1, Event: "level_up",
					At: time.Date(2024, 1, 1, 0, int(id), 0, 0, time.UTC), Currency: "USD", Data: map[string]string{"level": levels[id]}}}
		}
		for id := range int64(3) {
			b.signal(time.Duration(id+1)*time.Second, id+1)
		}
		b.env.RegisterDelayedCallback(func() { b.env.CancelWorkflow() }, 5*time.Second)
		b.env.ExecuteWorkflow(workflows.Customer, workflows.NewCustomerState(1, "42"))
		var outcomes []customervalue.Outcome
		for _, r := range b.records {
			outcomes = append(outcomes, r.Outcomes...)
		}
		require.Len(t, outcomes, 1, "level 9 pays nothing, level 10 pays once, level 12 nothing more")
		require.Equal(t, int64(2), outcomes[0].ConversionID)
		require.Equal(t, "25", outcomes[0].Payout.String())
		require.Len(t, b.records, 3, "the snapshot is saved with each conversion while rules apply")
	})

	t.Run("MissingConversionDoesNotStopTheCustomer", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 1)
		b.signal(time.Second, 1)
		b.signal(2*time.Second, 2)
		b.env.RegisterDelayedCallback(func() { b.env.CancelWorkflow() }, 3*time.Second)
		b.env.ExecuteWorkflow(workflows.Customer, workflows.NewCustomerState(1, "42"))
		require.Equal(t, []int64{2}, b.priced)
	})
}

// TestCustomerWorkflowSettlesCyclesOnTimers: an end-of-cycle outcome is
// paid by the workflow's own timer at the cycle's end, with no conversion to
// wake it.
func TestCustomerWorkflowSettlesCyclesOnTimers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	start := time.Date(2024, 3, 6, 12, 0, 0, 0, time.UTC) // a Wednesday
	b.env.SetStartTime(start)
	rule := customervalue.Rule{
		ID: 4, Name: "Weekly deposits", Active: true, AppliesOn: customervalue.AppliesOnAll,
		Timeframe:  customervalue.Timeframe{Cycle: customervalue.CycleWeekly, Anchor: customervalue.AnchorFirstConversion},
		Conditions: []customervalue.Condition{{Source: "deposit", Type: customervalue.TypeNumber, Aggregation: customervalue.AggSum, Operator: "gte", Value: "100"}},
		Grouping:   customervalue.GroupAll,
		Outcome: customervalue.RuleOutcome{Frequency: customervalue.OncePerCycle, Trigger: customervalue.TriggerEndOfCycle,
			Kind: customervalue.KindBonus, Payout: customervalue.Rate{Type: customervalue.RateFixed, Amount: decimal.NewFromInt(10)}},
	}
	b.priceFor = func(id int64) workflows.PriceResult {
		return workflows.PriceResult{Priced: true, PartnerID: 7, OfferID: 3, Payout: "1", TimeZone: "Europe/Berlin",
			Rules: []customervalue.Rule{rule},
			Conversion: &customervalue.Conversion{ID: id, PartnerID: 7, OfferID: 3, AdvertiserID: 1, Event: "deposit",
				At: start.Add(time.Duration(id) * time.Hour), Currency: "USD", Data: map[string]string{"deposit": "60"}}}
	}
	b.signal(time.Hour, 1)
	b.signal(2*time.Hour, 2)
	b.env.RegisterDelayedCallback(func() { b.env.CancelWorkflow() }, 10*24*time.Hour)
	b.env.ExecuteWorkflow(workflows.Customer, workflows.NewCustomerState(1, "42"))

	var outcomes []customervalue.Outcome
	for _, r := range b.records {
		outcomes = append(outcomes, r.Outcomes...)
	}
	require.Len(t, outcomes, 1)
	require.Equal(t, int64(2), outcomes[0].ConversionID, "the conversion that completed the goal")
	var recordedAt time.Time
	for i, r := range b.records {
		if len(r.Outcomes) > 0 {
			recordedAt = b.recorded[i]
		}
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	require.Equal(t, time.Date(2024, 3, 11, 0, 0, 0, 0, berlin), recordedAt.In(berlin), "paid at Monday 00:00 in the network zone")
}

func TestWorkflowIDs(t *testing.T) {
	t.Parallel()
	require.Equal(t, "customer/3/user-42", workflows.CustomerWorkflowID(3, "user-42"))
	require.NotEqual(t, workflows.CustomerWorkflowID(3, "42"), workflows.CustomerWorkflowID(4, "42"),
		"two advertisers' user 42 are two customers")
	require.Equal(t, "anonymous/17", workflows.AnonymousWorkflowID(17))

	// Readable where it is safe, escaped where it is not, hashed when long.
	for userID, want := range map[string]string{
		"müller@example.de":       "customer/1/m%C3%BCller@example.de",
		"a/b/c":                   "customer/1/a%2Fb%2Fc",
		`it's "x" y`:              "customer/1/it%27s%20%22x%22%20y",
		"100%":                    "customer/1/100%25",
		"~tilde":                  "customer/1/%7Etilde",
		"550e8400-e29b-41d4-a716": "customer/1/550e8400-e29b-41d4-a716",
	} {
		require.Equal(t, want, workflows.CustomerWorkflowID(1, userID), "%q", userID)
	}
	require.Equal(t, "1/josé's %22x%22%5Cy 100%25", workflows.CustomerAttribute(1, `josé's "x"\y 100%`),
		"readable, but for what Temporal's SQL visibility cannot match")
	longAttr := workflows.CustomerAttribute(1, strings.Repeat("é", 255))
	require.LessOrEqual(t, utf8.RuneCountInString(longAttr), 255, "within Temporal's PostgreSQL visibility's keywords")
	require.True(t, strings.HasPrefix(longAttr, "1/éé"))
	require.NotEqual(t, longAttr, workflows.CustomerAttribute(1, strings.Repeat("é", 254)+"e"), "still one customer's")
	long := workflows.CustomerWorkflowID(1, strings.Repeat("🎉", 255))
	require.Regexp(t, `^customer/1/~[0-9a-f]{64}$`, long)
}

// TestWorkflowIDsAreValidAndOneToOne checks the property the mapping exists
// for: any user_id up to its maximum length gives a printable-ASCII id well
// inside Temporal's 1,000-character limit, and different user_ids never
// share a workflow.
func TestWorkflowIDsAreValidAndOneToOne(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("aZ09-_.@+:=~%/ \"'é用户🎉\u00a0")
	seen := map[string]string{}
	for range 20000 {
		n := 1 + rng.IntN(limits.MaxUserIDLength)
		if rng.IntN(4) > 0 {
			n = 1 + rng.IntN(8) // short ids collide more, if they can
		}
		r := make([]rune, n)
		for i := range r {
			r[i] = alphabet[rng.IntN(len(alphabet))]
		}
		userID := string(r)
		id := workflows.CustomerWorkflowID(7, userID)
		require.LessOrEqual(t, len(id), 600)
		for i := 0; i < len(id); i++ {
			require.True(t, id[i] > 0x20 && id[i] < 0x7f, "%q has byte %#x", id, id[i])
		}
		if other, ok := seen[id]; ok {
			require.Equal(t, other, userID, "two user_ids share workflow %s", id)
		}
		seen[id] = userID
	}
}
