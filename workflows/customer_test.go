package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/tierwise/tierwise/workflows"
)

type testBundle struct {
	env    *testsuite.TestWorkflowEnvironment
	priced []int64
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
		return workflows.PriceResult{Priced: true, PartnerID: 7, OfferID: 3, Payout: "1.50"}, nil
	}, activity.RegisterOptions{Name: workflows.PriceConversionActivity})
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
		b.env.ExecuteWorkflow(workflows.Customer, workflows.CustomerState{AdvertiserID: 1, UserID: "42"})

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
		b.env.ExecuteWorkflow(workflows.Customer, workflows.CustomerState{AdvertiserID: 1})
		require.True(t, b.env.IsWorkflowCompleted())
		require.NoError(t, b.env.GetWorkflowError())
		require.Equal(t, []int64{9}, b.priced)
	})

	t.Run("ContinuesAsNewWithItsStateWhenSuggested", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.env.SetContinueAsNewSuggested(true)
		b.signal(time.Second, 5)
		b.env.ExecuteWorkflow(workflows.Customer, workflows.CustomerState{AdvertiserID: 1, UserID: "42", Priced: 10})
		require.True(t, b.env.IsWorkflowCompleted())
		var can *workflow.ContinueAsNewError
		require.ErrorAs(t, b.env.GetWorkflowError(), &can)
		require.Equal(t, "Customer", can.WorkflowType.Name)
		var next workflows.CustomerState
		require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
		require.Equal(t, 11, next.Priced, "the state is carried whole")
		require.Equal(t, []int64{5}, next.Recent)
	})

	t.Run("MissingConversionDoesNotStopTheCustomer", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 1)
		b.signal(time.Second, 1)
		b.signal(2*time.Second, 2)
		b.env.RegisterDelayedCallback(func() { b.env.CancelWorkflow() }, 3*time.Second)
		b.env.ExecuteWorkflow(workflows.Customer, workflows.CustomerState{AdvertiserID: 1, UserID: "42"})
		require.Equal(t, []int64{2}, b.priced)
	})
}

func TestWorkflowIDs(t *testing.T) {
	t.Parallel()
	require.Equal(t, "customer/3/user-42", workflows.CustomerWorkflowID(3, "user-42"))
	require.NotEqual(t, workflows.CustomerWorkflowID(3, "42"), workflows.CustomerWorkflowID(4, "42"),
		"two advertisers' user 42 are two customers")
	require.Equal(t, "anonymous/17", workflows.AnonymousWorkflowID(17))
}
