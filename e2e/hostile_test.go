package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNoInputAnswers500: inputs an attacker or a buggy client sends — NUL
// bytes, invalid UTF-8, huge values, impossible timestamps, malformed JSON,
// unknown routes — are each a 4xx naming the field, with a JSON body, and
// store nothing; never a 500 (DESIGN §14.3).
func TestNoInputAnswers500(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", cpaRPA("5.00", "8.00"))
	partner := b.partner(nil)
	b.mustDo(http.StatusCreated, http.MethodPost, "/data-points", map[string]any{"name": "Geo", "identifier": "geo", "type": "text"}, nil)
	valid := fmt.Sprintf("token=%s&offer_id=%d&partner_id=%d", adv.Token, offer, partner)
	conversions := func() int {
		var n int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM conversions`).Scan(&n))
		return n
	}
	long := func(n int) string { return strings.Repeat("x", n) }

	for _, tc := range []struct {
		name   string
		method string
		path   string // with its raw query
		body   string // JSON, or a form for POST /postback
		admin  bool
		status int
		field  string // the field the 400 names, when it names one
	}{
		{name: "NULInUserID", path: "/postback?" + valid + "&user_id=a%00b", status: 400, field: "user_id"},
		{name: "NULInOrderID", path: "/postback?" + valid + "&order_id=o%00", status: 400, field: "order_id"},
		{name: "NULInTextDataPoint", path: "/postback?" + valid + "&user_id=u&geo=EU%001", status: 400, field: "geo"},
		{name: "NULInAdv1", path: "/postback?" + valid + "&user_id=u&adv1=%00", status: 400, field: "adv1"},
		{name: "NULInToken", path: "/postback?token=tw%00&offer_id=1&partner_id=1&user_id=u", status: 400, field: "token"},
		{name: "InvalidUTF8", path: "/postback?" + valid + "&user_id=%FF%FE", status: 400, field: "user_id"},
		{name: "UserIDOf100KB", path: "/postback?" + valid + "&user_id=" + long(100_000), status: 400, field: "user_id"},
		{name: "OrderIDOf5000", path: "/postback?" + valid + "&order_id=" + long(5000), status: 400, field: "order_id"},
		{name: "TransactionIDOf10KB", path: "/postback?token=" + adv.Token + "&transaction_id=" + long(10_000), status: 400, field: "transaction_id"},
		{name: "NegativeTimestamp", path: "/postback?" + valid + "&user_id=u&timestamp=-99999999999999", status: 400, field: "timestamp"},
		{name: "MinInt64Timestamp", path: "/postback?" + valid + "&user_id=u&timestamp=-9223372036854775808", status: 400, field: "timestamp"},
		{name: "Year1", path: "/postback?" + valid + "&user_id=u&timestamp=0001-01-01T00:00:00Z", status: 400, field: "timestamp"},
		{name: "Year1970", path: "/postback?" + valid + "&user_id=u&timestamp=1970-01-01T00:00:00Z", status: 400, field: "timestamp"},
		{name: "FarFuture", path: "/postback?" + valid + "&user_id=u&timestamp=9999-12-31T23:59:59Z", status: 400, field: "timestamp"},
		{name: "AmountNaN", path: "/postback?" + valid + "&user_id=u&amount=NaN", status: 400, field: "amount"},
		{name: "AmountHugeExponent", path: "/postback?" + valid + "&user_id=u&amount=1e99999999999", status: 400, field: "amount"},
		{name: "OfferIDNotANumber", path: "/postback?token=" + adv.Token + "&offer_id=1%27DROP&partner_id=1&user_id=u", status: 400, field: "offer_id"},
		{name: "SemicolonInQuery", path: "/postback?token=" + adv.Token + "&offer_id=1;DROP&partner_id=1&user_id=u", status: 400, field: "query"},
		{name: "OfferIDOverflow", path: "/postback?token=" + adv.Token + "&offer_id=99999999999999999999&partner_id=1&user_id=u", status: 400, field: "offer_id"},
		{name: "TooManyParameters", path: "/postback?" + valid + manyParams(101), status: 400, field: "parameters"},
		{name: "ParameterNameWithNUL", path: "/postback?" + valid + "&us%00er=1", status: 400, field: "query"},
		{name: "FormBodyTooLarge", method: "POST", path: "/postback", body: valid + "&user_id=" + long(100_000), status: 400, field: "body"},
		{name: "FormBodyNUL", method: "POST", path: "/postback", body: valid + "&user_id=a%00", status: 400, field: "user_id"},

		{name: "ClickSubWithNUL", path: fmt.Sprintf("/click?offer_id=%d&partner_id=%d&sub1=%%00", offer, partner), status: 400, field: "sub1"},
		{name: "ClickSubOf100KB", path: fmt.Sprintf("/click?offer_id=%d&partner_id=%d&sub2=%s", offer, partner, long(100_000)), status: 400, field: "sub2"},
		{name: "ClickSourceTooLong", path: fmt.Sprintf("/click?offer_id=%d&partner_id=%d&source_id=%s", offer, partner, long(300)), status: 400, field: "source_id"},
		{name: "ClickOfferNotANumber", path: "/click?offer_id=x&partner_id=1", status: 400, field: "offer_id"},

		{name: "AdvertiserNameNUL", method: "POST", path: "/advertisers", body: `{"name":"Acme\u0000"}`, admin: true, status: 400, field: "name"},
		{name: "PartnerNameNUL", method: "POST", path: "/partners", body: `{"name":"\u0000"}`, admin: true, status: 400, field: "name"},
		{name: "TierDescriptionNUL", method: "POST", path: "/tiers", body: `{"name":"T","margin":"10","description":"a\u0000"}`, admin: true, status: 400, field: "description"},
		{name: "NestedNUL", method: "POST", path: "/offers", body: `{"advertiser_id":1,"name":"O","destination_url":"https://a.example/","events":[{"event":"\u0000","payout":{"type":"cpa","amount":"1"},"revenue":{"type":"rpa","amount":"1"}}]}`, admin: true, status: 400, field: "events[0].event"},
		{name: "ArrayBody", method: "POST", path: "/advertisers", body: `[]`, admin: true, status: 400, field: "body"},
		{name: "TrailingData", method: "POST", path: "/advertisers", body: `{"name":"A"}{"name":"B"}`, admin: true, status: 400, field: "body"},
		{name: "InvalidJSON", method: "POST", path: "/advertisers", body: `{"name":`, admin: true, status: 400, field: "body"},
		{name: "WrongType", method: "POST", path: "/advertisers", body: `{"name":17}`, admin: true, status: 400, field: "name"},
		{name: "BodyOver1MB", method: "POST", path: "/advertisers", body: `{"name":"` + long(2<<20) + `"}`, admin: true, status: 400, field: "body"},
		{name: "OpenRedirect", method: "POST", path: "/offers", body: fmt.Sprintf(`{"advertiser_id":%d,"name":"O","destination_url":"https://{sub1}/land","events":[{"event":"","payout":{"type":"cpa","amount":"1"},"revenue":{"type":"rpa","amount":"1"}}]}`, adv.ID), admin: true, status: 400, field: "destination_url"},
		{name: "JavascriptDestination", method: "POST", path: "/offers", body: fmt.Sprintf(`{"advertiser_id":%d,"name":"O","destination_url":"javascript:alert(1)","events":[{"event":"","payout":{"type":"cpa","amount":"1"},"revenue":{"type":"rpa","amount":"1"}}]}`, adv.ID), admin: true, status: 400, field: "destination_url"},
		{name: "TieredUnknownOffer", method: "POST", path: "/tiered-commissions", body: `{"name":"R","offer_ids":[999],"partner_ids":[998],"applies_to":"base","start_date":"2026-01-01","period":"monthly","bands":[{"name":"1","bounds":[{"metric":"conversions","max":"10"}],"payout":{"action":"increase","by":"percent","value":"10"}}]}`, admin: true, status: 400, field: "offer_ids[0]"},
		{name: "TieredEventNotOnOffer", method: "POST", path: "/tiered-commissions", body: fmt.Sprintf(`{"name":"R","offer_ids":[%d],"applies_to":"event","event":"deposit","start_date":"2026-01-01","period":"monthly","bands":[{"name":"1","bounds":[{"metric":"event_count","max":"10"}],"payout":{"action":"increase","by":"percent","value":"10"}}]}`, offer), admin: true, status: 400, field: "event"},
		{name: "ReversalNoteNUL", method: "POST", path: "/reversals", body: `{"conversion_id":1,"note":"\u0000"}`, admin: true, status: 400, field: "note"},
		{name: "ListUserIDNUL", path: "/conversions?user_id=%00", admin: true, status: 400, field: "user_id"},
		{name: "ListLimitHuge", path: "/conversions?limit=99999999999999999999", admin: true, status: 400, field: "limit"},
		{name: "ListFromGarbage", path: "/conversions?from=yesterday", admin: true, status: 400, field: "from"},
		{name: "EventsReportNUL", path: "/customers/1/a%00b/events", admin: true, status: 400, field: "user_id"},
		{name: "EventsReportLongUserID", path: "/customers/1/" + long(300) + "/events", admin: true, status: 400, field: "user_id"},
		{name: "EventsReportBadAdvertiser", path: "/customers/x/1/events", admin: true, status: 400, field: "advertiser_id"},
		{name: "UnknownRoute", path: "/nowhere", admin: true, status: 404},
		{name: "WrongMethod", method: "DELETE", path: "/advertisers", admin: true, status: 405},
		{name: "BasicAuth", path: "/advertisers", status: 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := conversions()
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequest(method, b.url+tc.path, body)
			require.NoError(t, err)
			switch {
			case tc.admin:
				req.Header.Set("Authorization", "bearer "+adminKey) // the scheme is case-insensitive
			case tc.name == "BasicAuth":
				req.Header.Set("Authorization", "Basic "+adminKey)
			}
			if tc.path == "/postback" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			} else if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tc.status, resp.StatusCode, "%s", clip(raw))
			require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"), "a JSON answer")
			var answer map[string]any
			require.NoError(t, json.Unmarshal(raw, &answer), "%s", clip(raw))
			if tc.field != "" {
				require.Equal(t, tc.field, problemField(answer), "%s", clip(raw))
			}
			require.Less(t, len(raw), 4096, "an answer never carries a whole oversized parameter")
			require.Equal(t, before, conversions(), "nothing is stored")
		})
	}
}

func manyParams(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "&p%d=1", i)
	}
	return b.String()
}

func clip(raw []byte) string {
	if len(raw) > 300 {
		return string(raw[:300]) + "…"
	}
	return string(bytes.ToValidUTF8(raw, nil))
}
