package worker

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/activities"
	"github.com/tierwise/tierwise/workflows"
)

// TestWorkflowsCallRegisteredActivities: the workflows call activities by
// name (the activities package imports the workflows' types, so the
// workflows cannot refer to its methods); every name they use must be a
// method the worker registers, so renaming one fails here, not in
// production.
func TestWorkflowsCallRegisteredActivities(t *testing.T) {
	t.Parallel()
	registered := reflect.TypeFor[*activities.Activities]()
	for _, name := range []string{
		workflows.PriceConversionActivity,
		workflows.PriceForCustomerActivity,
		workflows.LoadCustomerValueRulesActivity,
		workflows.RecordCustomerActivity,
		workflows.LoadCustomerActivity,
		workflows.RepriceCycleActivity,
		workflows.CloseCycleActivity,
		workflows.CloseEndedCyclesActivity,
	} {
		m, ok := registered.MethodByName(name)
		require.True(t, ok, "the workflows call activity %q, which *activities.Activities does not have", name)
		require.GreaterOrEqual(t, m.Type.NumIn(), 2, "%s takes a context", name)
	}
}
