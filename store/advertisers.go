package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Advertiser statuses.
const (
	AdvertiserActive   = "active"
	AdvertiserInactive = "inactive"
)

// postbackTokenPrefix makes an advertiser's postback token recognisable.
const postbackTokenPrefix = "tw_pb_"

// Advertiser sends conversion postbacks for its offers, authenticated by a
// secret postback token that is shown once and stored only as a hash.
type Advertiser struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// AdvertiserInput creates an advertiser.
type AdvertiserInput struct {
	Name   string `json:"name"`
	Status string `json:"status"` // default active
}

// Validate returns every problem with the input at once.
func (in AdvertiserInput) Validate() error {
	var p Problems
	checkName(&p, "name", in.Name)
	if in.Status != "" {
		checkOneOf(&p, "status", in.Status, AdvertiserActive, AdvertiserInactive)
	}
	return p.Err()
}

// AdvertiserPatch changes the fields it sets.
type AdvertiserPatch struct {
	Name   *string `json:"name"`
	Status *string `json:"status"`
}

// Validate returns every problem with the patch at once.
func (in AdvertiserPatch) Validate() error {
	var p Problems
	if in.Name != nil {
		checkName(&p, "name", *in.Name)
	}
	if in.Status != nil {
		checkOneOf(&p, "status", *in.Status, AdvertiserActive, AdvertiserInactive)
	}
	return p.Err()
}

const advertiserColumns = `id, name, status, created_at`

func scanAdvertiser(row pgx.Row) (Advertiser, error) {
	var a Advertiser
	err := row.Scan(&a.ID, &a.Name, &a.Status, &a.CreatedAt)
	a.CreatedAt = a.CreatedAt.UTC()
	return a, err
}

// CreateAdvertiser stores an advertiser and returns it with its postback
// token, which is not stored and cannot be read again.
func (s *Store) CreateAdvertiser(ctx context.Context, in AdvertiserInput) (Advertiser, string, error) {
	if err := in.Validate(); err != nil {
		return Advertiser{}, "", err
	}
	if in.Status == "" {
		in.Status = AdvertiserActive
	}
	token := NewSecret(postbackTokenPrefix)
	a, err := scanAdvertiser(s.pool.QueryRow(ctx, `INSERT INTO advertisers (name, status, postback_token_hash)
		VALUES ($1, $2, $3) RETURNING `+advertiserColumns, in.Name, in.Status, HashSecret(token)))
	if err != nil {
		return Advertiser{}, "", fmt.Errorf("create advertiser: %w", err)
	}
	return a, token, nil
}

// Advertiser returns one advertiser.
func (s *Store) Advertiser(ctx context.Context, id int64) (Advertiser, error) {
	a, err := scanAdvertiser(s.pool.QueryRow(ctx, `SELECT `+advertiserColumns+` FROM advertisers WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Advertiser{}, NotFound("advertiser", id)
	}
	if err != nil {
		return Advertiser{}, fmt.Errorf("read advertiser %d: %w", id, err)
	}
	return a, nil
}

// AdvertiserByPostbackToken finds the advertiser whose postback token this
// is, whatever its status (the caller decides what an inactive advertiser's
// postback gets). An unknown token is NotFound.
func (s *Store) AdvertiserByPostbackToken(ctx context.Context, token string) (Advertiser, error) {
	if token == "" {
		return Advertiser{}, NotFound("advertiser with postback token", "")
	}
	a, err := scanAdvertiser(s.pool.QueryRow(ctx, `SELECT `+advertiserColumns+` FROM advertisers WHERE postback_token_hash = $1`,
		HashSecret(token)))
	if errors.Is(err, pgx.ErrNoRows) {
		return Advertiser{}, NotFound("advertiser with postback token", "")
	}
	if err != nil {
		return Advertiser{}, fmt.Errorf("find advertiser by postback token: %w", err)
	}
	return a, nil
}

// Advertisers lists advertisers in id order.
func (s *Store) Advertisers(ctx context.Context, page Page) ([]Advertiser, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+advertiserColumns+` FROM advertisers WHERE id > $1 ORDER BY id LIMIT $2`,
		page.After, page.limit())
	if err != nil {
		return nil, fmt.Errorf("list advertisers: %w", err)
	}
	as, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Advertiser, error) { return scanAdvertiser(r) })
	if err != nil {
		return nil, fmt.Errorf("list advertisers: %w", err)
	}
	return as, nil
}

// UpdateAdvertiser changes an advertiser's name or status. Offers of an
// inactive advertiser take no clicks.
func (s *Store) UpdateAdvertiser(ctx context.Context, id int64, in AdvertiserPatch) (Advertiser, error) {
	if err := in.Validate(); err != nil {
		return Advertiser{}, err
	}
	a, err := scanAdvertiser(s.pool.QueryRow(ctx, `UPDATE advertisers SET name = coalesce($2, name), status = coalesce($3, status)
		WHERE id = $1 RETURNING `+advertiserColumns, id, in.Name, in.Status))
	if errors.Is(err, pgx.ErrNoRows) {
		return Advertiser{}, NotFound("advertiser", id)
	}
	if err != nil {
		return Advertiser{}, fmt.Errorf("update advertiser %d: %w", id, err)
	}
	return a, nil
}

// RotatePostbackToken gives an advertiser a new postback token, returned once;
// the old one stops working at once.
func (s *Store) RotatePostbackToken(ctx context.Context, id int64) (Advertiser, string, error) {
	token := NewSecret(postbackTokenPrefix)
	a, err := scanAdvertiser(s.pool.QueryRow(ctx, `UPDATE advertisers SET postback_token_hash = $2
		WHERE id = $1 RETURNING `+advertiserColumns, id, HashSecret(token)))
	if errors.Is(err, pgx.ErrNoRows) {
		return Advertiser{}, "", NotFound("advertiser", id)
	}
	if err != nil {
		return Advertiser{}, "", fmt.Errorf("rotate postback token of advertiser %d: %w", id, err)
	}
	return a, token, nil
}
