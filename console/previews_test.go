package console_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/store"
)

var jobID = regexp.MustCompile(`data-job="([0-9a-f]+)"`)

func TestConsolePreviews(t *testing.T) {
	t.Parallel()

	// Three conversions of the network's partner at $0.50, and a draft that
	// pays 10% more from the second, re-pricing the first.
	draft := func(b *testBundle, n network) url.Values {
		form := volumeForm(n.Offer.ID)
		form.Set("bands[0].bounds[0].max", "1")
		form.Set("bands[1].bounds[0].min", "1")
		form.Set("kind", "tiered")
		form.Set("preview.from", time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly))
		return form
	}
	htmx := map[string]string{"HX-Request": "true"}

	t.Run("RunsInTheBackgroundAndShowsThePerPartnerDifference", func(t *testing.T) {
		t.Parallel()
		b := setup(t).admin()
		n := b.network()
		for i := range 3 {
			b.convert(n, conversion{OrderID: "o" + itoa(int64(i))})
		}
		form := draft(b, n)
		form.Set("csrf_token", b.csrf())
		p := b.postRaw("/console/previews", form, map[string]string{"HX-Request": "true", "X-CSRF-Token": b.csrf()})
		require.Equal(t, http.StatusOK, p.Status, p.Body)
		m := jobID.FindStringSubmatch(p.Body)
		require.NotNil(t, m, p.Body)
		var body string
		require.Eventually(t, func() bool {
			req, err := http.NewRequest(http.MethodGet, b.url+"/console/previews/"+m[1], nil)
			require.NoError(t, err)
			for k, v := range htmx {
				req.Header.Set(k, v)
			}
			body = b.do(req).Body
			return strings.Contains(body, `data-done="true"`)
		}, 10*time.Second, 50*time.Millisecond)
		body = html.UnescapeString(body)
		require.Contains(t, body, "it would have paid $0.15 more ($1.65 instead of the $1.50 in the ledger).")
		require.Regexp(t, `(?s)<tr data-partner="`+itoa(n.Partner.ID)+`">.*<td class="num difference">\+\$0.15</td>`, body)
		require.Contains(t, body, "Tiered Commission")
		require.NotContains(t, body, "hx-get", "done: no more polling")

		lines, err := b.store.Lines(t.Context(), 1)
		require.NoError(t, err)
		require.Len(t, lines, 2, "the ledger is as it was: price lines only")

		other := setupSibling(t, b).admin()
		require.Equal(t, http.StatusNotFound, other.get("/console/previews/"+m[1]).Status, "another session's job is not found")
		page := b.mustGet("/console/previews/" + m[1])
		require.Contains(t, html.UnescapeString(page.Body), "$0.15 more", "a page of its own without JavaScript")
	})
	t.Run("WithoutJavaScriptARedirectToTheJobsPage", func(t *testing.T) {
		t.Parallel()
		b := setup(t).admin()
		n := b.network()
		p := b.post("/console/previews", draft(b, n))
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		require.True(t, strings.HasPrefix(p.Location, "/console/previews/"), p.Location)
	})
	t.Run("ARuleThatDoesNotValidateIsNotPreviewed", func(t *testing.T) {
		t.Parallel()
		b := setup(t).admin()
		n := b.network()
		form := draft(b, n)
		form.Set("bands[1].bounds[0].min", "0")
		form.Set("preview.max", "20000")
		p := b.post("/console/previews", form)
		require.Equal(t, http.StatusBadRequest, p.Status)
		body := html.UnescapeString(p.Body)
		require.Contains(t, body, "fix the rule first")
		require.Contains(t, body, `bands[1]: bands[1] "Pro" overlaps bands[0] "Standard"`)
		require.Contains(t, body, "preview.max: must be a whole number from 1 to 10000")
	})
	t.Run("CustomerValueDraft", func(t *testing.T) {
		t.Parallel()
		b := setup(t).admin()
		n := b.network()
		b.numberDataPoints(t, "deposit", "trade")
		form := traderForm()
		form.Set("kind", "value")
		form.Set("preview.from", "2024-01-01")
		form.Set("csrf_token", b.csrf())
		p := b.postRaw("/console/previews", form, map[string]string{"HX-Request": "true", "X-CSRF-Token": b.csrf()})
		require.Equal(t, http.StatusOK, p.Status, p.Body)
		require.Contains(t, p.Body, `id="preview-job"`)
		rules, err := b.store.CustomerValueRules(t.Context(), store.CustomerValueRuleFilter{})
		require.NoError(t, err)
		require.Empty(t, rules, "a preview saves nothing")
		dps, err := b.store.DataPoints(t.Context(), store.DataPointFilter{})
		require.NoError(t, err)
		require.Len(t, dps, 2, "nor the data point the draft would create")
		_ = n
	})
}

// TestConsoleManualEdit: the conversion page's edit form sets the payout
// through lifecycle.Edit with a required reason, and lists who and why.
func TestConsoleManualEdit(t *testing.T) {
	t.Parallel()
	b := setup(t).admin()
	n := b.network()
	c := b.convert(n, conversion{OrderID: "o-1"})
	path := "/console/conversions/" + itoa(c.ID)
	require.Contains(t, b.mustGet(path).Body, `id="edit-form"`)

	p := b.post(path+"/edit", url.Values{"edit.payout": {"0.80"}})
	require.Equal(t, http.StatusBadRequest, p.Status)
	requireField(t, p, "edit.reason", "is required: say why the amount changes")
	p = b.post(path+"/edit", url.Values{"edit.payout": {"0,80"}, "edit.reason": {"typo"}})
	require.Equal(t, http.StatusBadRequest, p.Status)
	requireField(t, p, "edit.payout", "must be a number")

	p = b.post(path+"/edit", url.Values{"edit.payout": {"0.80"}, "edit.reason": {"Advertiser confirmed the higher rate"}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	got, err := b.store.Conversion(t.Context(), c.ID)
	require.NoError(t, err)
	require.Equal(t, "0.8", got.Payout.String())
	page := b.mustGet(path)
	require.Regexp(t, `<td class="by">TIERWISE_ADMIN_KEY</td><td class="why">Advertiser confirmed the higher rate</td>`, page.Body)
	require.Contains(t, page.Body, "$0.50 → $0.80")
	require.Contains(t, page.Body, "Manual edit")
}
