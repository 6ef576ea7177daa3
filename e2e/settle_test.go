package e2e

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/workflows"
)

// The waits below replace sleeps before assertions that something did not
// happen: each waits, with a deadline, for the condition after which it
// could no longer happen.

// waitSettled waits until the API reports no pending work on the
// conversions (DESIGN §14.12): priced, and seen by the Customer Value
// rules. An instant outcome is written in the transaction that marks its
// conversion seen, so a bonus or override absent then is never written for
// that conversion.
func (b *testBundle) waitSettled(ids ...int64) {
	b.t.Helper()
	for _, cid := range ids {
		var c struct {
			Pending []string `json:"pending"`
		}
		require.Eventually(b.t, func() bool {
			b.mustDo(http.StatusOK, http.MethodGet, fmt.Sprintf("/conversions/%d", cid), nil, &c)
			return len(c.Pending) == 0
		}, 30*time.Second, 20*time.Millisecond, "conversion %d still has pending work: %v", cid, c.Pending)
	}
}

// waitCaughtUp waits until no conversion is left for the sweeper to signal
// (again), then until each customer's workflow has handled every signal it
// got: Temporal answers a query only once the workflow has processed the
// events that reached it before the query, so an answered state query
// means every signal sent so far has been handled.
func (b *testBundle) waitCaughtUp(advertiserID int64, users ...string) {
	b.t.Helper()
	ctx := context.Background()
	require.Eventually(b.t, func() bool {
		var unsignalled int
		require.NoError(b.t, b.pool.QueryRow(ctx, `SELECT count(*) FROM conversions
			WHERE status = 'approved' AND signalled_at IS NULL`).Scan(&unsignalled))
		return unsignalled == 0
	}, 30*time.Second, 20*time.Millisecond, "every approved conversion is signalled")
	c := b.temporal.Client()
	for _, user := range users {
		qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := c.QueryWorkflow(qctx, workflows.CustomerWorkflowID(advertiserID, user), "", workflows.QueryState)
		cancel()
		require.NoError(b.t, err, "query customer %s", user)
	}
}
