package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Session is a console sign-in: who signed in, with which key, and the
// token every form of the session must carry (CSRF).
type Session struct {
	ID        int64
	Kind      string // admin (partner sessions are for the partner's own view)
	PartnerID int64
	APIKeyID  int64 // 0: a key from the configuration
	KeyHash   string
	KeyName   string
	CSRFToken string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// NewSession is a session to start for a key that was just authenticated.
type NewSession struct {
	Key     APIKey
	KeyHash string // HashSecret of the key signed in with
	TTL     time.Duration
}

// CreateSession starts a session and returns it with the secret of its
// cookie, which is stored only as a hash. Expired sessions are deleted on
// the way.
func (s *Store) CreateSession(ctx context.Context, in NewSession) (Session, string, error) {
	if in.TTL <= 0 {
		return Session{}, "", errors.New("create session: TTL must be positive")
	}
	secret := NewSecret("tw_session_")
	sess := Session{Kind: in.Key.Kind, PartnerID: in.Key.PartnerID, APIKeyID: in.Key.ID, KeyHash: in.KeyHash,
		KeyName: in.Key.Name, CSRFToken: NewSecret("")}
	var apiKeyID, partnerID *int64
	if in.Key.ID != 0 {
		apiKeyID = &in.Key.ID
	}
	if in.Key.Kind == KeyPartner {
		partnerID = &in.Key.PartnerID
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE expires_at < now()`); err != nil {
			return fmt.Errorf("delete expired sessions: %w", err)
		}
		return tx.QueryRow(ctx, `INSERT INTO console_sessions (token_hash, csrf_token, kind, partner_id, api_key_id, key_hash, key_name, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, now() + $8 * interval '1 second') RETURNING id, created_at, expires_at`,
			HashSecret(secret), sess.CSRFToken, sess.Kind, partnerID, apiKeyID, sess.KeyHash, sess.KeyName, int64(in.TTL/time.Second)).
			Scan(&sess.ID, &sess.CreatedAt, &sess.ExpiresAt)
	})
	if err != nil {
		return Session{}, "", fmt.Errorf("create session: %w", err)
	}
	sess.CreatedAt, sess.ExpiresAt = sess.CreatedAt.UTC(), sess.ExpiresAt.UTC()
	return sess, secret, nil
}

// SessionBySecret returns the unexpired session whose cookie secret this
// is, NotFound when there is none or when the key it was signed in with
// (a stored one) has been revoked since. Whether a configured key is still
// configured is for the caller to check against KeyHash.
func (s *Store) SessionBySecret(ctx context.Context, secret string) (Session, error) {
	if secret == "" {
		return Session{}, NotFound("session", "")
	}
	var sess Session
	var partnerID, apiKeyID *int64
	err := s.pool.QueryRow(ctx, `SELECT s.id, s.kind, s.partner_id, s.api_key_id, s.key_hash, s.key_name, s.csrf_token, s.created_at, s.expires_at
		FROM console_sessions s LEFT JOIN api_keys k ON k.id = s.api_key_id
		WHERE s.token_hash = $1 AND s.expires_at > now() AND (s.api_key_id IS NULL OR k.revoked_at IS NULL)`,
		HashSecret(secret)).Scan(&sess.ID, &sess.Kind, &partnerID, &apiKeyID, &sess.KeyHash, &sess.KeyName,
		&sess.CSRFToken, &sess.CreatedAt, &sess.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, NotFound("session", "")
	}
	if err != nil {
		return Session{}, fmt.Errorf("read session: %w", err)
	}
	if partnerID != nil {
		sess.PartnerID = *partnerID
	}
	if apiKeyID != nil {
		sess.APIKeyID = *apiKeyID
	}
	sess.CreatedAt, sess.ExpiresAt = sess.CreatedAt.UTC(), sess.ExpiresAt.UTC()
	return sess, nil
}

// DeleteSession ends the session with this cookie secret, if there is one.
func (s *Store) DeleteSession(ctx context.Context, secret string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM console_sessions WHERE token_hash = $1`, HashSecret(secret)); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}
