package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/limits"
)

// ErrNotAllowed is matched by errors.Is when a partner may not run an offer;
// the error is a *NotAllowedError saying why.
var ErrNotAllowed = errors.New("not allowed")

// NotAllowedError says, in plain words, why a partner may not run an offer.
type NotAllowedError struct {
	PartnerID int64
	OfferID   int64
	Reason    string
}

func (e *NotAllowedError) Error() string {
	return fmt.Sprintf("partner %d may not run offer %d: %s", e.PartnerID, e.OfferID, e.Reason)
}

// Is reports whether target is ErrNotAllowed.
func (e *NotAllowedError) Is(target error) bool { return target == ErrNotAllowed }

// runFacts is what decides whether a partner may run an offer, read in one
// query together with the offer and the partner's tier as it applies to it.
type runFacts struct {
	offer            Offer
	partnerStatus    string
	advertiserStatus string
	approved         bool
	tierActive       bool
	tierMargin       decimal.Decimal
	tierListed       bool
	autoApprove      bool
	applyMargin      bool
}

// mayRun is DESIGN.md §6: an active partner may run an active offer of an
// active advertiser when the offer is public, when the partner is approved
// for it, or when the partner's tier is active and lists the offer with
// "automatically approve" on (which overrides require-approval and private).
// The reason never mentions tiers: partners do not see them.
func (f runFacts) mayRun() (ok bool, reason string) {
	ok, _, reason = f.check()
	return ok, reason
}

// check is mayRun with the rejection reason a conversion gets when the
// partner may not run the offer (DESIGN §14.1).
func (f runFacts) check() (ok bool, rejection, reason string) {
	switch {
	case f.partnerStatus != PartnerActive:
		return false, RejectPartnerInactive, "the partner is " + f.partnerStatus + ", not active"
	case f.advertiserStatus != AdvertiserActive:
		return false, RejectAdvertiserInactive, "the offer's advertiser is inactive"
	case f.offer.Status != OfferActive:
		return false, RejectOfferInactive, "the offer is " + f.offer.Status + ", not active"
	case f.offer.Visibility == VisibilityPublic, f.approved, f.tierActive && f.autoApprove:
		return true, "", ""
	case f.offer.Visibility == VisibilityRequireApproval:
		return false, RejectPartnerNotApproved, "the offer requires approval and the partner is not approved for it"
	default:
		return false, RejectPartnerNotApproved, "the offer is private and the partner is not approved for it"
	}
}

// OfferAccess is an offer, with its events, and whether a partner may run it
// now.
type OfferAccess struct {
	Offer Offer
	// Rejection is "" when the partner may run the offer, else the reason a
	// conversion gets (RejectPartnerInactive, ...), and Why the same in
	// words.
	Rejection string
	Why       string
}

// OfferAccess reads an offer with its events and whether the partner may run
// it now, in two statements. An unknown partner or offer is NotFound.
func (s *Store) OfferAccess(ctx context.Context, partnerID, offerID int64) (OfferAccess, error) {
	f, err := mayRunFacts(ctx, s.pool, partnerID, offerID)
	if err != nil {
		return OfferAccess{}, err
	}
	offers := []Offer{f.offer}
	if err := offerEvents(ctx, s.pool, offers); err != nil {
		return OfferAccess{}, err
	}
	_, rejection, why := f.check()
	return OfferAccess{Offer: offers[0], Rejection: rejection, Why: why}, nil
}

// runFactsSQL reads runFacts of partner $1; the caller adds the offers'
// condition and order.
const runFactsSQL = `SELECT o.id, o.advertiser_id, o.name, o.status, o.visibility, o.currency, o.destination_url, o.created_at,
		p.status, a.status,
		EXISTS (SELECT 1 FROM offer_approvals ap WHERE ap.partner_id = p.id AND ap.offer_id = o.id),
		t.status = 'active', t.margin, tof.offer_id IS NOT NULL,
		coalesce(tof.auto_approve, false), coalesce(tof.apply_margin, false)
	FROM partners p
	JOIN partner_tiers t ON t.id = p.tier_id
	CROSS JOIN offers o
	JOIN advertisers a ON a.id = o.advertiser_id
	LEFT JOIN tier_offers tof ON tof.tier_id = p.tier_id AND tof.offer_id = o.id
	WHERE p.id = $1 AND `

// runFactsOf reads the facts of partnerID for the offers that cond (on
// offers o, with arguments from $2) selects.
func runFactsOf(ctx context.Context, q dbtx, partnerID int64, cond string, args ...any) ([]runFacts, error) {
	rows, err := q.Query(ctx, runFactsSQL+cond, append([]any{partnerID}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("read offers of partner %d: %w", partnerID, err)
	}
	facts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (runFacts, error) {
		var f runFacts
		o := &f.offer
		err := r.Scan(&o.ID, &o.AdvertiserID, &o.Name, &o.Status, &o.Visibility, &o.Currency, &o.DestinationURL, &o.CreatedAt,
			&f.partnerStatus, &f.advertiserStatus, &f.approved,
			&f.tierActive, &f.tierMargin, &f.tierListed, &f.autoApprove, &f.applyMargin)
		o.CreatedAt = o.CreatedAt.UTC()
		o.Events = []OfferEvent{}
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("read offers of partner %d: %w", partnerID, err)
	}
	return facts, nil
}

// mayRunFacts reads the facts of one partner and offer; an unknown one is
// NotFound.
func mayRunFacts(ctx context.Context, q dbtx, partnerID, offerID int64) (runFacts, error) {
	if partnerID <= 0 {
		return runFacts{}, NotFound("partner", partnerID)
	}
	if offerID <= 0 {
		return runFacts{}, NotFound("offer", offerID)
	}
	facts, err := runFactsOf(ctx, q, partnerID, `o.id = $2`, offerID)
	if err != nil {
		return runFacts{}, err
	}
	if len(facts) == 0 {
		if err := partnerAndOffer(ctx, q, partnerID, offerID); err != nil {
			return runFacts{}, err
		}
		return runFacts{}, NotFound("partner or offer", fmt.Sprintf("%d/%d", partnerID, offerID))
	}
	return facts[0], nil
}

// MayRun reports whether a partner may run an offer now and, when not, why
// in plain words fit to show the partner. An unknown partner or offer is
// NotFound.
func (s *Store) MayRun(ctx context.Context, partnerID, offerID int64) (ok bool, reason string, err error) {
	f, err := mayRunFacts(ctx, s.pool, partnerID, offerID)
	if err != nil {
		return false, "", err
	}
	ok, reason = f.mayRun()
	return ok, reason, nil
}

// Click is one click on a partner's tracking link; its transaction id comes
// back on the advertiser's postback and resolves the partner and offer.
type Click struct {
	TransactionID string    `json:"transaction_id"`
	OfferID       int64     `json:"offer_id"`
	PartnerID     int64     `json:"partner_id"`
	AdvertiserID  int64     `json:"advertiser_id"`
	Sub1          string    `json:"sub1"`
	Sub2          string    `json:"sub2"`
	Sub3          string    `json:"sub3"`
	Sub4          string    `json:"sub4"`
	Sub5          string    `json:"sub5"`
	SourceID      string    `json:"source_id,omitempty"` // the traffic source the partner names (Everflow's source_id)
	CreatedAt     time.Time `json:"created_at"`
}

// ClickInput is a click as the tracking link carries it.
type ClickInput struct {
	OfferID   int64
	PartnerID int64
	Subs      [5]string // sub1–sub5: the partner's own tracking values
	SourceID  string
}

// Validate returns every problem with the input at once.
func (in ClickInput) Validate() error {
	var p Problems
	checkID(&p, "offer_id", in.OfferID)
	checkID(&p, "partner_id", in.PartnerID)
	for i, sub := range in.Subs {
		if err := limits.Text(sub, limits.MaxIDLength, false); err != nil {
			p.Add("sub"+strconv.Itoa(i+1), "%v", err)
		}
	}
	if err := limits.Text(in.SourceID, limits.MaxIDLength, false); err != nil {
		p.Add("source_id", "%v", err)
	}
	return p.Err()
}

// RecordClick stores a click of a partner who may run the offer and returns
// it with the URL to send the visitor to: the offer's destination with its
// macros filled in. A partner who may not run the offer gets a
// *NotAllowedError and nothing is stored.
func (s *Store) RecordClick(ctx context.Context, in ClickInput) (Click, string, error) {
	if err := in.Validate(); err != nil {
		return Click{}, "", err
	}
	f, err := mayRunFacts(ctx, s.pool, in.PartnerID, in.OfferID)
	if err != nil {
		return Click{}, "", err
	}
	if ok, reason := f.mayRun(); !ok {
		return Click{}, "", &NotAllowedError{PartnerID: in.PartnerID, OfferID: in.OfferID, Reason: reason}
	}
	c := Click{
		TransactionID: newTransactionID(),
		OfferID:       in.OfferID,
		PartnerID:     in.PartnerID,
		AdvertiserID:  f.offer.AdvertiserID,
		Sub1:          in.Subs[0], Sub2: in.Subs[1], Sub3: in.Subs[2], Sub4: in.Subs[3], Sub5: in.Subs[4],
		SourceID: in.SourceID,
	}
	err = s.pool.QueryRow(ctx, `INSERT INTO clicks (transaction_id, offer_id, partner_id, sub1, sub2, sub3, sub4, sub5, source_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING created_at`,
		c.TransactionID, c.OfferID, c.PartnerID, c.Sub1, c.Sub2, c.Sub3, c.Sub4, c.Sub5, c.SourceID).Scan(&c.CreatedAt)
	if err != nil {
		return Click{}, "", fmt.Errorf("record click: %w", err)
	}
	c.CreatedAt = c.CreatedAt.UTC()
	return c, c.Destination(f.offer.DestinationURL), nil
}

// newTransactionID returns 16 random bytes in hex: URL-safe and unguessable.
func newTransactionID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Destination fills the click macros of an offer's destination URL:
// {transaction_id}, {offer_id}, {partner_id} and {sub1}–{sub5}, each
// URL-escaped.
func (c Click) Destination(destinationURL string) string {
	return clickMacros.Replace(destinationURL, func(name string) string {
		var v string
		switch name {
		case "transaction_id":
			v = c.TransactionID
		case "offer_id":
			v = strconv.FormatInt(c.OfferID, 10)
		case "partner_id":
			v = strconv.FormatInt(c.PartnerID, 10)
		case "sub1":
			v = c.Sub1
		case "sub2":
			v = c.Sub2
		case "sub3":
			v = c.Sub3
		case "sub4":
			v = c.Sub4
		case "sub5":
			v = c.Sub5
		}
		return url.QueryEscape(v)
	})
}

// macros finds {name} placeholders in a URL.
type macros struct{ re *regexp.Regexp }

// Replace replaces each macro with value(name).
func (m macros) Replace(s string, value func(name string) string) string {
	return m.re.ReplaceAllStringFunc(s, func(macro string) string { return value(macro[1 : len(macro)-1]) })
}

// clickMacros are the macros a destination URL may carry.
var clickMacros = macros{regexp.MustCompile(`\{(transaction_id|offer_id|partner_id|sub[1-5])\}`)}

// ClickByTransactionID returns the click with this transaction id.
func (s *Store) ClickByTransactionID(ctx context.Context, id string) (Click, error) {
	var c Click
	err := s.pool.QueryRow(ctx, `SELECT c.transaction_id, c.offer_id, c.partner_id, o.advertiser_id,
			c.sub1, c.sub2, c.sub3, c.sub4, c.sub5, c.source_id, c.created_at
		FROM clicks c JOIN offers o ON o.id = c.offer_id WHERE c.transaction_id = $1`, id).
		Scan(&c.TransactionID, &c.OfferID, &c.PartnerID, &c.AdvertiserID, &c.Sub1, &c.Sub2, &c.Sub3, &c.Sub4, &c.Sub5, &c.SourceID, &c.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Click{}, NotFound("click with transaction_id", id)
	}
	if err != nil {
		return Click{}, fmt.Errorf("read click %q: %w", id, err)
	}
	c.CreatedAt = c.CreatedAt.UTC()
	return c, nil
}
