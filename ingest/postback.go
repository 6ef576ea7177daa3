package ingest

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/limits"
	"github.com/tierwise/tierwise/store"
)

// Postback is a postback's parameters, each checked for its type and bounds,
// before they are resolved against the network (the advertiser, the click,
// the offer, the data points).
type Postback struct {
	Token         string
	AdvertiserID  int64 // aid; 0 when not sent
	TransactionID string
	OfferID       int64 // 0 when not sent
	PartnerID     int64 // partner_id or affiliate_id; 0 when not sent
	Event         string
	EventID       int64 // an offer event's stable id; 0 when not sent
	UserID        string
	OrderID       string
	SaleAmount    decimal.Decimal
	AmountSent    bool
	Revenue       decimal.NullDecimal
	Status        string // approved (the default), pending or rejected
	OccurredAt    time.Time
	Adv           []string // adv1–adv5
	CouponCode    string
	EmailSHA256   string // the hex SHA-256 of the lower-cased email; the address is never kept
	// Other holds every parameter that is not one of the above, by name:
	// data points, or unknown parameters the answer warns about.
	Other map[string]string
}

// ParseOptions are what ParsePostback checks timestamps against.
type ParseOptions struct {
	Now time.Time
	// MaxAge is how old a conversion's timestamp may be (DESIGN §14.5).
	MaxAge time.Duration
}

// DefaultMaxAge is how old a conversion may be unless configured otherwise.
const DefaultMaxAge = 400 * 24 * time.Hour

// maxFuture is how far ahead of the server's clock a timestamp may be.
const maxFuture = time.Hour

// earliest is the first instant a conversion may carry.
var earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// maxParameters bounds how many parameters one postback may carry.
const maxParameters = 100

var (
	eventName     = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)
	parameterName = regexp.MustCompile(`^[A-Za-z0-9_.\-\[\]]{1,64}$`)
)

// Parameter names tierwise reads, with the aliases other platforms' templates
// use (Everflow: affiliate_id for the partner, verification_token for the
// token, aid for the advertiser, event_id for an event by its numeric id).
const (
	paramToken             = "token"
	paramVerificationToken = "verification_token"
	paramAdvertiser        = "aid"
	paramTransaction       = "transaction_id"
	paramOffer             = "offer_id"
	paramPartner           = "partner_id"
	paramAffiliate         = "affiliate_id"
	paramEvent             = "event"
	paramEventID           = "event_id"
	paramUser              = "user_id"
	paramOrder             = "order_id"
	paramAmount            = "amount"
	paramRevenue           = "revenue"
	paramStatus            = "status"
	paramTimestamp         = "timestamp"
	paramCoupon            = "coupon_code"
	paramEmail             = "email"
)

var knownParameters = []string{
	paramToken, paramVerificationToken, paramAdvertiser, paramTransaction, paramOffer, paramPartner, paramAffiliate,
	paramEvent, paramEventID, paramUser, paramOrder, paramAmount, paramRevenue, paramStatus, paramTimestamp,
	paramCoupon, paramEmail, "adv1", "adv2", "adv3", "adv4", "adv5",
}

// IsParameter reports whether name is a postback parameter of tierwise's own
// (a data point cannot take such a name).
func IsParameter(name string) bool { return slices.Contains(knownParameters, name) }

// ParsePostback checks a postback's parameters: each one at most once, each
// of its type and within its documented bounds (package limits), the
// timestamp within [2000-01-01, now + 1 h] and not older than MaxAge. It
// does no I/O. Every problem is reported at once, naming the parameter.
func ParsePostback(q url.Values, opts ParseOptions) (Postback, error) {
	var p store.Problems
	pb := Postback{Status: store.StatusApproved, OccurredAt: opts.Now.UTC(), Other: map[string]string{}}
	if len(q) > maxParameters {
		// The token still authenticates the caller, so that only the
		// advertiser learns what is wrong with its postback.
		pb.Token = cmp.Or(q.Get(paramToken), q.Get(paramVerificationToken))
		p.Add("parameters", "at most %d parameters, got %d", maxParameters, len(q))
		return pb, p.Err()
	}
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	slices.Sort(names) // problems in a stable order
	values := map[string]string{}
	for _, k := range names {
		vs := q[k]
		if !parameterName.MatchString(k) {
			p.Add("parameters", "parameter name %q is not 1–64 of A–Z, a–z, 0–9, _ . - [ ]", limits.Clip(k))
			continue
		}
		if len(vs) > 1 {
			p.Add(k, "is sent %d times; send each parameter once", len(vs))
			continue
		}
		v := strings.TrimSpace(vs[0])
		if !slices.Contains(knownParameters, k) {
			if err := limits.Text(v, limits.MaxTextValueLength, false); err != nil {
				p.Add(k, "%v", err)
				continue
			}
			if v != "" {
				pb.Other[k] = v
			}
			continue
		}
		values[k] = v
	}
	text := func(k string, max int) string {
		v := values[k]
		if err := limits.Text(v, max, false); err != nil {
			p.Add(k, "%v", err)
			return ""
		}
		return v
	}
	alias := func(a, b string, max int) (string, string) {
		va, vb := text(a, max), text(b, max)
		switch {
		case va == "":
			return vb, b
		case vb != "" && va != vb:
			p.Add(b, "%s and %s name the same thing and differ; send one", a, b)
		}
		return va, a
	}

	pb.Token, _ = alias(paramToken, paramVerificationToken, limits.MaxTokenLength)
	pb.AdvertiserID = parseID(&p, paramAdvertiser, text(paramAdvertiser, 20))
	pb.TransactionID = text(paramTransaction, limits.MaxIDLength)
	pb.OfferID = parseID(&p, paramOffer, text(paramOffer, 20))
	partner, partnerField := alias(paramPartner, paramAffiliate, 20)
	pb.PartnerID = parseID(&p, partnerField, partner)
	if pb.TransactionID != "" && (pb.OfferID != 0 || pb.PartnerID != 0) {
		// The click decides both; a second opinion could only disagree.
		p.Add(paramTransaction, "send transaction_id, or offer_id with partner_id, not both")
	}
	if pb.TransactionID == "" && len(p) == 0 {
		if pb.OfferID == 0 {
			p.Add(paramOffer, "is required (or send transaction_id)")
		}
		if pb.PartnerID == 0 {
			p.Add(paramPartner, "is required (or send transaction_id); affiliate_id is accepted too")
		}
	}

	pb.Event = strings.ToLower(text(paramEvent, 64))
	if pb.Event != "" && !eventName.MatchString(pb.Event) {
		p.Add(paramEvent, "must be 1–64 of lower-case letters, digits and underscores")
	}
	pb.EventID = parseID(&p, paramEventID, text(paramEventID, 20))
	pb.UserID = text(paramUser, limits.MaxUserIDLength)
	pb.OrderID = text(paramOrder, limits.MaxIDLength)
	if v := values[paramAmount]; v != "" {
		d, err := limits.ParseAmount(v, limits.Amount)
		if err != nil {
			p.Add(paramAmount, "%v", err)
		}
		pb.SaleAmount, pb.AmountSent = d, true
	}
	if v := values[paramRevenue]; v != "" {
		d, err := limits.ParseAmount(v, limits.Amount)
		if err != nil {
			p.Add(paramRevenue, "%v", err)
		}
		pb.Revenue = decimal.NewNullDecimal(d)
	}
	switch s := strings.ToLower(text(paramStatus, 16)); s {
	case "", store.StatusApproved:
	case store.StatusPending, store.StatusRejected:
		pb.Status = s
	default:
		p.Add(paramStatus, "must be approved, pending or rejected")
	}
	if v := text(paramTimestamp, 40); v != "" {
		if t, err := parseTimestamp(v, opts); err != nil {
			p.Add(paramTimestamp, "%v", err)
		} else {
			pb.OccurredAt = t
		}
	}
	for k := 1; k <= 5; k++ {
		pb.Adv = append(pb.Adv, text("adv"+strconv.Itoa(k), limits.MaxIDLength))
	}
	pb.CouponCode = text(paramCoupon, limits.MaxIDLength)
	if email := text(paramEmail, limits.MaxEmailLength); email != "" {
		if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
			p.Add(paramEmail, "must be an email address such as user@example.com")
		} else {
			sum := sha256.Sum256([]byte(strings.ToLower(email)))
			pb.EmailSHA256 = hex.EncodeToString(sum[:])
		}
	}
	return pb, p.Err()
}

// parseID reads an optional positive id.
func parseID(p *store.Problems, field, v string) int64 {
	if v == "" {
		return 0
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		p.Add(field, "must be a positive integer, got %q", limits.Clip(v))
		return 0
	}
	return id
}

// parseTimestamp reads Unix seconds or RFC 3339 and checks the instant is
// one a conversion can have. Nothing is clamped.
func parseTimestamp(v string, opts ParseOptions) (time.Time, error) {
	var t time.Time
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		// Range-check before converting: time.Unix of an extreme value
		// wraps rather than fails.
		if secs < earliest.Unix() || secs > opts.Now.Add(maxFuture).Unix() {
			return time.Time{}, fmt.Errorf("%d is outside the accepted range (from 2000-01-01 to an hour from now)", secs)
		}
		t = time.Unix(secs, 0)
	} else {
		t, err = time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return time.Time{}, fmt.Errorf("must be RFC 3339 (2024-01-31T12:00:00Z) or Unix seconds, got %q", limits.Clip(v))
		}
	}
	t = t.UTC()
	switch {
	case t.Before(earliest):
		return time.Time{}, fmt.Errorf("%s is before 2000-01-01", t.Format(time.RFC3339))
	case t.After(opts.Now.Add(maxFuture)):
		return time.Time{}, fmt.Errorf("%s is more than an hour in the future", t.Format(time.RFC3339))
	case opts.MaxAge > 0 && t.Before(opts.Now.Add(-opts.MaxAge)):
		return time.Time{}, fmt.Errorf("%s is more than %d days old, the oldest conversion this network accepts", t.Format(time.RFC3339), int(opts.MaxAge/(24*time.Hour)))
	}
	return t, nil
}
