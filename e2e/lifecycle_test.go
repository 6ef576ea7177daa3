package e2e

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"

	"github.com/tierwise/tierwise/activities"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/workflows"
)

func TestConversionStatus(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", cpaRPA("5.00", "8.00"))
	partner := b.partner(nil)

	t.Run("PendingIsNotPricedUntilApproved", func(t *testing.T) {
		status, body := b.postback(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner), "user_id", "p1", "status", "pending"))
		require.Equal(t, http.StatusOK, status)
		cid := int64(body["conversion_id"].(float64))
		// The customer's next conversion is signalled after it, in order:
		// once that one is priced, the pending one would have been.
		b.convert(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner), "user_id", "p1", "order_id", "p1-next"))
		c, err := b.store.Conversion(context.Background(), cid)
		require.NoError(t, err)
		require.Nil(t, c.SignalledAt, "a pending conversion is not sent to the customer's workflow")
		require.Nil(t, c.PricedAt)
		require.Equal(t, "pending conversions are not priced until approved", b.explanationNote(cid))

		b.mustDo(http.StatusOK, http.MethodPatch, fmt.Sprintf("/conversions/%d", cid), map[string]any{"status": "approved"}, nil)
		c = b.waitPriced(cid)
		requireAmount(t, "5.00", c.Payout)
	})

	t.Run("ApprovedToRejectedReversesAndStays", func(t *testing.T) {
		c := b.convert(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner), "user_id", "p2"))
		var out struct {
			Status string `json:"status"`
			Payout string `json:"payout"`
		}
		b.mustDo(http.StatusOK, http.MethodPatch, fmt.Sprintf("/conversions/%d", c.ID), map[string]any{"status": "rejected"}, &out)
		require.Equal(t, "rejected", out.Status)
		require.Equal(t, "0", out.Payout)
		require.Equal(t, http.StatusConflict, b.do(http.MethodPatch, fmt.Sprintf("/conversions/%d", c.ID), map[string]any{"status": "approved"}, nil))
		require.Equal(t, http.StatusBadRequest, b.do(http.MethodPatch, fmt.Sprintf("/conversions/%d", c.ID), map[string]any{"status": "paid"}, nil))
	})

	t.Run("RejectedPostbackIsNeverPriced", func(t *testing.T) {
		status, body := b.postback(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner), "user_id", "p3", "status", "rejected"))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "rejected", body["status"])
		require.Equal(t, "postback", body["reason"])
		require.Equal(t, "rejected (postback): rejected conversions are never priced", b.explanationNote(int64(body["conversion_id"].(float64))))
	})
}

func (b *testBundle) explanationNote(id int64) string {
	b.t.Helper()
	var e struct {
		Note string `json:"note"`
	}
	b.mustDo(http.StatusOK, http.MethodGet, fmt.Sprintf("/conversions/%d/explanation", id), nil, &e)
	return e.Note
}

func TestCustomerWorkflowInTemporal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", cpaRPA("5.00", "8.00"))
	partner := b.partner(nil)

	c := b.convert(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner), "user_id", "42"))
	wid := workflows.CustomerWorkflowID(adv.ID, "42")
	require.Equal(t, wid, c.WorkflowID)

	tc := b.temporal.Client()
	require.Eventually(t, func() bool {
		desc, err := tc.DescribeWorkflowExecution(ctx, wid, "")
		require.NoError(t, err)
		attrs := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()
		return attrs[workflows.AttrLastPartner.GetName()] != nil && attrs[workflows.AttrCustomer.GetName()] != nil
	}, 10*time.Second, 50*time.Millisecond, "search attributes are set")

	v, err := tc.QueryWorkflow(ctx, wid, "", workflows.QueryState)
	require.NoError(t, err)
	var state workflows.CustomerState
	require.NoError(t, v.Get(&state))
	require.Equal(t, 1, state.Priced)
	require.Equal(t, partner, state.LastPartner)

	t.Run("AnonymousConversionIsPricedWithoutALifetime", func(t *testing.T) {
		c := b.convert(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner), "order_id", "anon-1"))
		requireAmount(t, "5.00", c.Payout)
		require.Empty(t, c.UserID)
		require.NotNil(t, c.SignalledAt, "marked once priced")
		// Priced in place: no workflow for a conversion without a lifetime
		// (the costliest thing a conversion could do, DESIGN's issue on
		// the engine's limit).
		_, err := tc.DescribeWorkflowExecution(ctx, workflows.AnonymousWorkflowID(c.ID), "")
		var missing *serviceerror.NotFound
		require.ErrorAs(t, err, &missing)
	})

	t.Run("AnonymousConversionLeftUnsignalledIsSweptAndPricedOnce", func(t *testing.T) {
		// Stored as by an API that died before its signaller ran.
		n := store.NewConversion{AdvertiserID: adv.ID, OfferID: offer, PartnerID: partner,
			OrderID: "anon-swept", DedupeKey: fmt.Sprintf("%d::order:anon-swept", offer), Currency: "USD",
			Status: store.StatusApproved, OccurredAt: time.Now().Add(-time.Minute)}
		c, _, err := b.store.InsertConversion(ctx, n)
		require.NoError(t, err)
		_, err = b.pool.Exec(ctx, `UPDATE conversions SET received_at = now() - interval '1 minute' WHERE id = $1`, c.ID)
		require.NoError(t, err)
		// The sweeper and any number of other callers may price it at the
		// same time: it is priced once.
		acts := activities.New(b.store, tc, b.logger)
		errs := make([]error, 4)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() { errs[i] = acts.PriceAnonymous(ctx, c.ID) })
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		priced := b.waitPriced(c.ID)
		requireAmount(t, "5.00", priced.Payout)
		require.Eventually(t, func() bool {
			got, err := b.store.Conversion(ctx, c.ID)
			return err == nil && got.SignalledAt != nil
		}, 20*time.Second, 50*time.Millisecond, "the sweeper marks it done")
		var lines int
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM ledger_lines WHERE conversion_id = $1`, c.ID).Scan(&lines))
		require.Equal(t, 2, lines, "one payout and one revenue line")
		_, err = tc.DescribeWorkflowExecution(ctx, workflows.AnonymousWorkflowID(c.ID), "")
		var missing *serviceerror.NotFound
		require.ErrorAs(t, err, &missing)
	})
}

func TestConversionReport(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", cpaRPA("5.00", "8.00"))
	inTier := b.partner(nil)
	other := b.partner(nil)
	b.convert(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(inTier), "user_id", "r1", "timestamp", "2024-05-31T12:00:00Z"))
	b.convert(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(other), "user_id", "r2", "timestamp", "2024-06-01T12:00:00Z"))
	b.convert(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(inTier), "user_id", "r3", "timestamp", "2024-06-02T12:00:00Z"))
	// The partner joins the tier after the activity: the report filters by
	// current membership (seed 002).
	tier := b.tier("High Quality", "10", inTier)

	type report struct {
		Items []struct {
			UserID string `json:"user_id"`
		} `json:"items"`
		NextCursor string `json:"next_cursor"`
	}
	users := func(query string) []string {
		t.Helper()
		var r report
		b.mustDo(http.StatusOK, http.MethodGet, "/conversions?"+query, nil, &r)
		var out []string
		for _, it := range r.Items {
			out = append(out, it.UserID)
		}
		return out
	}
	require.Equal(t, []string{"r1", "r3"}, users(fmt.Sprintf("tier_id=%d", tier)))
	require.Equal(t, []string{"r1"}, users(fmt.Sprintf("tier_id=%d&to=2024-05-31", tier)), "to is an inclusive day")
	require.Equal(t, []string{"r2", "r3"}, users("from=2024-06-01"))
	require.Equal(t, []string{"r2"}, users(fmt.Sprintf("partner_id=%d", other)))
	require.Empty(t, users("status=pending"))

	var page report
	b.mustDo(http.StatusOK, http.MethodGet, "/conversions?limit=2", nil, &page)
	require.Len(t, page.Items, 2)
	require.NotEmpty(t, page.NextCursor)
	require.Equal(t, []string{"r3"}, users("limit=2&after="+page.NextCursor))

	require.Equal(t, http.StatusBadRequest, b.do(http.MethodGet, "/conversions?from=June", nil, nil))

	req, err := http.NewRequest(http.MethodGet, b.url+"/conversions/export.csv?from=2024-06-01", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv"))
	rows, err := csv.NewReader(resp.Body).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3, "a header and two conversions")
	require.Equal(t, "payout", rows[0][13])
	require.Equal(t, "5", rows[1][13])
}

// TestCustomerPostbacksPricedInOrder: postbacks are signalled in the
// background, and a customer's are still priced in the order they were
// accepted (the Customer Value rules see them in that order), while other
// customers' postbacks are interleaved.
func TestCustomerPostbacksPricedInOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", cpaRPA("1.00", "2.00"), deposits("1.00", "2.00"))
	partner := b.partner(nil)
	var mine []int64
	for i := range 40 {
		m := map[string]string{"token": adv.Token, "offer_id": id(offer), "partner_id": id(partner), "user_id": "ordered"}
		if i > 0 {
			m["event"], m["order_id"] = "deposit", fmt.Sprint("d", i)
		}
		mine = append(mine, b.send(m))
		b.send(map[string]string{"token": adv.Token, "offer_id": id(offer), "partner_id": id(partner), "user_id": fmt.Sprint("other-", i)})
	}
	for _, cid := range mine {
		b.waitPriced(cid)
	}
	rows, err := b.pool.Query(context.Background(), `SELECT id FROM conversions WHERE id = ANY($1) ORDER BY priced_at, id`, mine)
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	require.Equal(t, mine, got, "priced in the order accepted")
}
