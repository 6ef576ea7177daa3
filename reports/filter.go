package reports

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tierwise/tierwise/store"
)

// RejectionReasons are the reasons a conversion can be rejected for, in the
// order the report lists them.
var RejectionReasons = []string{
	store.RejectPartnerNotApproved, store.RejectPartnerInactive, store.RejectOfferInactive,
	store.RejectAdvertiserInactive, store.RejectReversed, store.RejectPostback, store.RejectManual,
}

// Statuses are the conversion statuses the report filters by.
var Statuses = []string{store.StatusPending, store.StatusApproved, store.StatusRejected}

// maxUserIDLength bounds the user_id filter: longer ids match nothing.
const maxUserIDLength = 1000

// ParseConversionFilter reads the conversion report's filters from a query
// string, every problem at once, each naming its parameter: from and to
// (days YYYY-MM-DD in the network's time zone, to inclusive, or RFC 3339
// instants), partner_id, offer_id, advertiser_id, tier_id (the tier's
// current members), tiered_rule_id, customer_value_rule_id, status,
// rejection_reason and user_id. The cursor and the page size are the
// caller's.
func ParseConversionFilter(q url.Values, loc *time.Location) (store.ConversionFilter, error) {
	var p store.Problems
	f := store.ConversionFilter{Status: q.Get("status"), UserID: q.Get("user_id"), RejectionReason: q.Get("rejection_reason")}
	f.From = parseTime(&p, q, "from", loc, false)
	f.To = parseTime(&p, q, "to", loc, true)
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		p.Add("to", "must not be before from")
	}
	ids := []struct {
		field string
		dst   *int64
	}{
		{"partner_id", &f.PartnerID}, {"offer_id", &f.OfferID}, {"advertiser_id", &f.AdvertiserID},
		{"tier_id", &f.TierID}, {"tiered_rule_id", &f.TieredRuleID}, {"customer_value_rule_id", &f.ValueRuleID},
	}
	for _, id := range ids {
		*id.dst = parseID(&p, q, id.field)
	}
	if f.Status != "" && !slices.Contains(Statuses, f.Status) {
		p.Add("status", "must be one of %s", strings.Join(Statuses, ", "))
	}
	if f.RejectionReason != "" && !slices.Contains(RejectionReasons, f.RejectionReason) {
		p.Add("rejection_reason", "must be one of %s", strings.Join(RejectionReasons, ", "))
	}
	switch v := q.Get("state"); v {
	case "":
	case "stuck":
		f.Stuck = true
	default:
		p.Add("state", "must be stuck (conversions whose signal keeps failing)")
	}
	if v := q.Get("priced"); v != "" {
		priced, err := strconv.ParseBool(v)
		if err != nil {
			p.Add("priced", "must be true or false")
		}
		f.Priced = &priced
	}
	switch {
	case utf8.RuneCountInString(f.UserID) > maxUserIDLength:
		p.Add("user_id", "must be at most %d characters", maxUserIDLength)
	case strings.ContainsRune(f.UserID, 0):
		p.Add("user_id", "must not contain a NUL byte")
	}
	return f, p.Err()
}

// parseTime reads a date in loc or an RFC 3339 instant; a date read as the
// end of a range is the start of the next day.
func parseTime(p *store.Problems, q url.Values, field string, loc *time.Location, endOfDay bool) time.Time {
	v := q.Get(field)
	if v == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t
	}
	d, err := time.ParseInLocation(time.DateOnly, v, loc)
	if err != nil {
		p.Add(field, "must be a date YYYY-MM-DD or an RFC 3339 time")
		return time.Time{}
	}
	if endOfDay {
		return d.AddDate(0, 0, 1)
	}
	return d
}

// parseID reads an optional positive id.
func parseID(p *store.Problems, q url.Values, field string) int64 {
	v := q.Get(field)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		p.Add(field, "must be a positive integer")
		return 0
	}
	return n
}

// ParseRange reads a from–to range as the report filters do: days
// YYYY-MM-DD in loc (to inclusive, through the end of its day) or RFC 3339
// instants; empty values are zero times. Problems name the fields.
func ParseRange(from, to string, loc *time.Location) (time.Time, time.Time, error) {
	var p store.Problems
	q := url.Values{"from": {from}, "to": {to}}
	f, t := parseTime(&p, q, "from", loc, false), parseTime(&p, q, "to", loc, true)
	if !f.IsZero() && !t.IsZero() && !t.After(f) {
		p.Add("to", "must be after from")
	}
	return f, t, p.Err()
}
