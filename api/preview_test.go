package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func volumeRule(offerID int64) map[string]any {
	return map[string]any{
		"name": "Volume", "offer_ids": []int64{offerID}, "applies_to": "base", "start_date": "2025-01-01", "period": "monthly",
		"bands": []map[string]any{{"name": "Gold", "bounds": []map[string]any{{"metric": "conversions", "min": "2"}},
			"payout": map[string]any{"action": "increase", "by": "percent", "value": "10"}}},
	}
}

// TestPreviewRequests checks what the what-if previews and a draft's
// conflicts accept and refuse, as openapi.yaml documents them.
func TestPreviewRequests(t *testing.T) {
	t.Parallel()
	b := setup(t)
	offer := b.offer(t, b.advertiser(t).ID, "public")
	saved := decode[struct {
		ID int64 `json:"id"`
	}](t, b.admin(t, http.StatusCreated, http.MethodPost, "/tiered-commissions", volumeRule(offer.ID)))
	from := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)

	t.Run("ADraftOrASavedRule", func(t *testing.T) {
		t.Parallel()
		for _, path := range []string{"/tiered-commissions/preview", "/customer-value-rules/preview", "/tiered-commissions/conflicts"} {
			require.Equal(t, []string{"rule"}, problemFields(t, b.do(t, adminKey, http.MethodPost, path, map[string]any{"from": from})), path)
		}
		require.Equal(t, []string{"rule_id"}, problemFields(t, b.do(t, adminKey, http.MethodPost, "/tiered-commissions/preview",
			map[string]any{"from": from, "rule_id": 999})))
		require.Equal(t, []string{"rule_id"}, problemFields(t, b.do(t, adminKey, http.MethodPost, "/tiered-commissions/preview",
			map[string]any{"from": from, "rule_id": 999, "rule": volumeRule(offer.ID)})), "an edit of a rule that does not exist")
		require.Equal(t, []string{"rule_id"}, problemFields(t, b.do(t, adminKey, http.MethodPost, "/customer-value-rules/preview",
			map[string]any{"from": from, "rule_id": 999, "rule": traderRule(time.Now()), "data_points": traderDataPoints()})))
	})
	t.Run("DraftProblemsNamed", func(t *testing.T) {
		t.Parallel()
		bad := volumeRule(offer.ID)
		bad["period"] = "hourly"
		require.Equal(t, []string{"rule.period"}, problemFields(t, b.do(t, adminKey, http.MethodPost, "/tiered-commissions/preview",
			map[string]any{"from": from, "rule": bad})))
		rule := traderRule(time.Now())
		rule["conditions"].([]map[string]any)[0]["operator"] = "gt"
		require.Contains(t, problemFields(t, b.do(t, adminKey, http.MethodPost, "/customer-value-rules/preview",
			map[string]any{"from": from, "rule": rule, "data_points": traderDataPoints()})), "rule.conditions[0].operator", "gt on a text data point")
	})
	t.Run("Bounds", func(t *testing.T) {
		t.Parallel()
		for body, field := range map[string]string{
			`{"rule_id": 1}`:                                                 "from",
			`{"rule_id": 1, "from": "yesterday"}`:                            "from",
			`{"rule_id": 1, "from": "2025-02-01", "to": "2025-01-01"}`:       "to",
			`{"rule_id": 1, "from": "2025-01-01", "max_conversions": 10001}`: "max_conversions",
			`{"rule_id": 1, "from": "2025-01-01", "examples": 51}`:           "examples",
		} {
			require.Equal(t, []string{field}, problemFields(t, b.do(t, adminKey, http.MethodPost, "/tiered-commissions/preview", body)), body)
		}
		require.Equal(t, http.StatusUnauthorized, b.do(t, "", http.MethodPost, "/tiered-commissions/preview", `{}`).Code)
	})
	t.Run("APreviewOfNothing", func(t *testing.T) {
		t.Parallel()
		res := decode[struct {
			RuleID      int64 `json:"rule_id"`
			Conversions int   `json:"conversions"`
			Totals      []any `json:"totals"`
			Partners    []any `json:"partners"`
			Examples    []any `json:"examples"`
		}](t, b.admin(t, http.StatusOK, http.MethodPost, "/tiered-commissions/preview", map[string]any{"from": from, "rule_id": saved.ID}))
		require.Equal(t, saved.ID, res.RuleID)
		require.Zero(t, res.Conversions)
		require.NotNil(t, res.Totals)
		require.NotNil(t, res.Partners)
		require.NotNil(t, res.Examples)
	})
	t.Run("ConflictsOfADraft", func(t *testing.T) {
		t.Parallel()
		conflicts := decode[listBody[struct {
			A, B, Winner int64
			Why          string
		}]](t, b.admin(t, http.StatusOK, http.MethodPost, "/tiered-commissions/conflicts",
			map[string]any{"rule": volumeRule(offer.ID), "from": from, "max_conversions": 5}))
		require.Len(t, conflicts.Items, 1, "the window's fields are accepted and ignored")
		require.Equal(t, saved.ID, conflicts.Items[0].A)
		require.Zero(t, conflicts.Items[0].B, "the draft, not saved yet")
		require.Zero(t, conflicts.Items[0].Winner, "the draft is the newest rule")

		edited := decode[listBody[struct{ A, B int64 }]](t, b.admin(t, http.StatusOK, http.MethodPost, "/tiered-commissions/conflicts",
			map[string]any{"rule": volumeRule(offer.ID), "rule_id": saved.ID}))
		require.Empty(t, edited.Items, "a rule's own saved version is left out")
	})
}
