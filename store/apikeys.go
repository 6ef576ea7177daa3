package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Key kinds.
const (
	KeyAdmin   = "admin"
	KeyPartner = "partner"
)

// APIKey is a stored key; the secret itself is shown once, at creation.
// A key from the configuration (TIERWISE_ADMIN_KEY) has ID 0.
type APIKey struct {
	ID        int64      `json:"id"`
	Kind      string     `json:"kind"`
	PartnerID int64      `json:"partner_id,omitempty"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Configured reports whether the key comes from the configuration, not
// from the database; such a key cannot be revoked here.
func (k APIKey) Configured() bool { return k.ID == 0 }

// ConfiguredKeyName is the name an admin key from the configuration goes by.
const ConfiguredKeyName = "TIERWISE_ADMIN_KEY"

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

// checkKeyName requires a name: a key is revoked by it, so an unnamed one
// cannot be told from the others.
func checkKeyName(p *Problems, name string) {
	checkName(p, "name", name)
	if strings.ContainsRune(name, 0) {
		p.Add("name", "must not contain a NUL byte")
	}
}

const apiKeyColumns = `id, kind, coalesce(partner_id, 0), name, created_at, revoked_at`

func scanAPIKey(row pgx.Row) (APIKey, error) {
	var k APIKey
	err := row.Scan(&k.ID, &k.Kind, &k.PartnerID, &k.Name, &k.CreatedAt, &k.RevokedAt)
	k.CreatedAt = k.CreatedAt.UTC()
	k.RevokedAt = utcPtr(k.RevokedAt)
	return k, err
}

// CreateAPIKey stores a new key and returns it with its secret. A partner
// key without a name is named after the partner's key count; an admin key
// needs a name.
func (s *Store) CreateAPIKey(ctx context.Context, kind string, partnerID int64, name string) (APIKey, string, error) {
	prefix := "tw_admin_"
	var partner *int64
	if kind == KeyPartner {
		prefix = "tw_partner_"
		partner = &partnerID
		if strings.TrimSpace(name) == "" {
			name = "partner key"
		}
	}
	var p Problems
	checkKeyName(&p, name)
	if err := p.Err(); err != nil {
		return APIKey{}, "", err
	}
	secret := NewSecret(prefix)
	k, err := scanAPIKey(s.pool.QueryRow(ctx,
		`INSERT INTO api_keys (kind, partner_id, name, token_hash) VALUES ($1, $2, $3, $4) RETURNING `+apiKeyColumns,
		kind, partner, name, HashSecret(secret)))
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
	k, err := scanAPIKey(s.pool.QueryRow(ctx,
		`SELECT `+apiKeyColumns+` FROM api_keys WHERE token_hash = $1 AND revoked_at IS NULL`, HashSecret(secret)))
	if errors.Is(err, pgx.ErrNoRows) {
		return APIKey{}, NotFound("API key", "")
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("look up API key: %w", err)
	}
	return k, nil
}

// AdminKey authenticates an admin: the secret is one of the configured
// admin keys (an APIKey with ID 0) or an unrevoked admin key from the
// database. An unknown secret is NotFound; a partner's key is NotAllowed.
func (s *Store) AdminKey(ctx context.Context, secret string, configured []string) (APIKey, error) {
	if secret == "" {
		return APIKey{}, NotFound("API key", "")
	}
	for _, c := range configured {
		if subtle.ConstantTimeCompare([]byte(c), []byte(secret)) == 1 {
			return APIKey{Kind: KeyAdmin, Name: ConfiguredKeyName}, nil
		}
	}
	k, err := s.LookupAPIKey(ctx, secret)
	if err != nil {
		return APIKey{}, err
	}
	if k.Kind != KeyAdmin {
		return APIKey{}, fmt.Errorf("a %s key: %w", k.Kind, ErrNotAllowed)
	}
	return k, nil
}

// APIKeyFilter selects keys; zero fields select all.
type APIKeyFilter struct {
	Kind      string // admin or partner
	PartnerID int64
	// Revoked includes revoked keys.
	Revoked bool
	Page
}

// Validate returns every problem with the filter at once.
func (f APIKeyFilter) Validate() error {
	var p Problems
	if f.Kind != "" {
		checkOneOf(&p, "kind", f.Kind, KeyAdmin, KeyPartner)
	}
	return p.Err()
}

// APIKeys lists keys in id order, never their secrets.
func (s *Store) APIKeys(ctx context.Context, f APIKeyFilter) ([]APIKey, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys
		WHERE id > $1 AND ($2 = '' OR kind = $2) AND ($3 = 0 OR partner_id = $3) AND ($4 OR revoked_at IS NULL)
		ORDER BY id LIMIT $5`, f.After, f.Kind, f.PartnerID, f.Revoked, f.limit())
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (APIKey, error) { return scanAPIKey(r) })
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return keys, nil
}

// RevokeAPIKey revokes a key at once: requests and console sessions with
// it stop working. Revoking a revoked key keeps its first revocation.
func (s *Store) RevokeAPIKey(ctx context.Context, id int64) (APIKey, error) {
	k, err := scanAPIKey(s.pool.QueryRow(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
		WHERE id = $1 RETURNING `+apiKeyColumns, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return APIKey{}, NotFound("API key", id)
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("revoke API key %d: %w", id, err)
	}
	return k, nil
}
