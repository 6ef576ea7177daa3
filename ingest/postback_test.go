package ingest

import (
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/limits"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/workflows"
)

var fuzzNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// FuzzPostback feeds the postback parser arbitrary query strings: it never
// panics, and whatever it accepts is within every documented bound, with a
// user_id that always maps to a valid workflow id. The seed corpus (below
// and in testdata/fuzz) runs in every `go test`.
func FuzzPostback(f *testing.F) {
	for _, seed := range []string{
		"token=t&offer_id=1&partner_id=2&user_id=42",
		"token=t&transaction_id=abc&event=deposit&order_id=o1&amount=100.50",
		"verification_token=t&aid=3&offer_id=1&affiliate_id=2&event_id=7&coupon_code=X&email=a@b.co",
		"token=t&offer_id=1&partner_id=2&user_id=jos%C3%A9&timestamp=2026-11-30T10:00:00Z",
		"token=t&offer_id=1&partner_id=2&user_id=%F0%9F%8E%89&timestamp=1764500000",
		"token=t&offer_id=1&partner_id=2&user_id=a%2Fb%2Fc&geo=EU1&level=10",
		"token=t&offer_id=1&partner_id=2&amount=1e400&revenue=-1&timestamp=-9223372036854775808",
		"token=t&offer_id=1&offer_id=2&partner_id=3",
		"token=t&offer_id=1&partner_id=2&user_id=%00&order_id=%FF",
		"token=t&offer_id=99999999999999999999&partner_id=0&status=paid",
		"token=t&partner_id=1&affiliate_id=2&event=Deposit&event_id=x",
		"token=t&offer_id=1&partner_id=2&timestamp=0001-01-01T00:00:00Z&email=not-an-email",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		pb, err := ParsePostback(q, ParseOptions{Now: fuzzNow, MaxAge: DefaultMaxAge})
		if err != nil {
			var invalid *store.InvalidError
			require.ErrorAs(t, err, &invalid, "every refusal names its fields")
			for _, p := range invalid.Problems {
				require.NotEmpty(t, p.Field)
				require.True(t, utf8.ValidString(p.Message))
				require.Less(t, len(p.Message), 1000, "a message never carries a whole parameter")
			}
			return
		}
		require.LessOrEqual(t, utf8.RuneCountInString(pb.UserID), limits.MaxUserIDLength)
		require.NoError(t, limits.Text(pb.UserID, limits.MaxUserIDLength, false))
		if pb.UserID != "" {
			id := workflows.CustomerWorkflowID(1, pb.UserID)
			require.Less(t, len(id), 1000)
			for i := 0; i < len(id); i++ {
				require.True(t, id[i] > 0x20 && id[i] < 0x7f, "workflow id %q", id)
			}
		}
		for _, s := range append([]string{pb.OrderID, pb.TransactionID, pb.CouponCode}, pb.Adv...) {
			require.NoError(t, limits.Text(s, limits.MaxIDLength, false))
		}
		require.NoError(t, limits.Amount(pb.SaleAmount))
		if pb.Revenue.Valid {
			require.NoError(t, limits.Amount(pb.Revenue.Decimal))
		}
		require.False(t, pb.OccurredAt.Before(earliest))
		require.False(t, pb.OccurredAt.After(fuzzNow.Add(maxFuture)))
		require.False(t, pb.OccurredAt.Before(fuzzNow.Add(-DefaultMaxAge)))
		require.Contains(t, []string{store.StatusApproved, store.StatusPending, store.StatusRejected}, pb.Status)
		require.LessOrEqual(t, len(q), maxParameters)
		for k, v := range pb.Other {
			require.Regexp(t, parameterName, k)
			require.NoError(t, limits.Text(v, limits.MaxTextValueLength, false))
		}
		require.False(t, pb.TransactionID != "" && (pb.OfferID != 0 || pb.PartnerID != 0))
		require.True(t, pb.TransactionID != "" || (pb.OfferID > 0 && pb.PartnerID > 0))
	})
}

func TestParsePostbackTimestamps(t *testing.T) {
	t.Parallel()
	parse := func(ts string, maxAge time.Duration) error {
		_, err := ParsePostback(url.Values{"token": {"t"}, "offer_id": {"1"}, "partner_id": {"2"}, "timestamp": {ts}},
			ParseOptions{Now: fuzzNow, MaxAge: maxAge})
		return err
	}
	require.NoError(t, parse("2026-12-01T12:59:00Z", DefaultMaxAge), "up to an hour ahead")
	require.ErrorContains(t, parse("2026-12-01T13:01:00Z", DefaultMaxAge), "in the future")
	require.NoError(t, parse(fuzzNow.Add(-399*24*time.Hour).Format(time.RFC3339), DefaultMaxAge))
	require.ErrorContains(t, parse(fuzzNow.Add(-401*24*time.Hour).Format(time.RFC3339), DefaultMaxAge), "more than 400 days old")
	require.NoError(t, parse("2001-01-01T00:00:00Z", 30*365*24*time.Hour), "a longer limit")
	require.ErrorContains(t, parse("1999-12-31T23:59:59Z", 30*365*24*time.Hour), "before 2000-01-01")
	require.ErrorContains(t, parse("-9223372036854775808", DefaultMaxAge), "outside the accepted range")
	require.ErrorContains(t, parse("0", DefaultMaxAge), "outside the accepted range")
	require.NoError(t, parse("1764590400", DefaultMaxAge), "Unix seconds")
}

func TestParsePostbackAliases(t *testing.T) {
	t.Parallel()
	opts := ParseOptions{Now: fuzzNow, MaxAge: DefaultMaxAge}
	pb, err := ParsePostback(url.Values{"verification_token": {"t"}, "offer_id": {"1"}, "affiliate_id": {"2"}, "email": {"Ann@Example.COM"}}, opts)
	require.NoError(t, err)
	require.Equal(t, "t", pb.Token)
	require.Equal(t, int64(2), pb.PartnerID)
	other, err := ParsePostback(url.Values{"token": {"t"}, "offer_id": {"1"}, "partner_id": {"2"}, "email": {"ann@example.com"}}, opts)
	require.NoError(t, err)
	require.Equal(t, pb.EmailSHA256, other.EmailSHA256, "the hash is of the lower-cased address")
	require.NotContains(t, strings.ToLower(pb.EmailSHA256), "example")

	_, err = ParsePostback(url.Values{"token": {"t"}, "offer_id": {"1"}, "partner_id": {"2"}, "affiliate_id": {"3"}}, opts)
	require.ErrorContains(t, err, "differ")
	_, err = ParsePostback(url.Values{"token": {"t"}, "transaction_id": {"x"}, "offer_id": {"1"}}, opts)
	require.ErrorContains(t, err, "not both")
}
