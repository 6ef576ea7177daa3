package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Key kinds.
const (
	KeyAdmin   = "admin"
	KeyPartner = "partner"
)

// APIKey is a stored key; the secret itself is shown once, at creation.
type APIKey struct {
	ID        int64  `json:"id"`
	Kind      string `json:"kind"`
	PartnerID int64  `json:"partner_id,omitempty"`
	Name      string `json:"name"`
}

// NewSecret returns a random secret with a readable prefix, e.g. "tw_admin_…".
func NewSecret(prefix string) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// HashSecret is how secrets are stored and looked up.
func HashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// CreateAPIKey stores a new key and returns it with its secret.
func (s *Store) CreateAPIKey(ctx context.Context, kind string, partnerID int64, name string) (APIKey, string, error) {
	prefix := "tw_admin_"
	var partner *int64
	if kind == KeyPartner {
		prefix = "tw_partner_"
		partner = &partnerID
	}
	secret := NewSecret(prefix)
	k := APIKey{Kind: kind, PartnerID: partnerID, Name: name}
	err := s.pool.QueryRow(ctx,
		`INSERT INTO api_keys (kind, partner_id, name, token_hash) VALUES ($1, $2, $3, $4) RETURNING id`,
		kind, partner, name, HashSecret(secret)).Scan(&k.ID)
	if isForeignKeyViolation(err) {
		return APIKey{}, "", NotFound("partner", partnerID)
	}
	if err != nil {
		return APIKey{}, "", fmt.Errorf("create API key: %w", err)
	}
	return k, secret, nil
}

// LookupAPIKey finds the unrevoked key with this secret.
func (s *Store) LookupAPIKey(ctx context.Context, secret string) (APIKey, error) {
	var k APIKey
	var partner *int64
	err := s.pool.QueryRow(ctx,
		`SELECT id, kind, partner_id, name FROM api_keys WHERE token_hash = $1 AND revoked_at IS NULL`,
		HashSecret(secret)).Scan(&k.ID, &k.Kind, &partner, &k.Name)
	if errors.Is(err, pgx.ErrNoRows) {
		return APIKey{}, NotFound("API key", "")
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("look up API key: %w", err)
	}
	if partner != nil {
		k.PartnerID = *partner
	}
	return k, nil
}
