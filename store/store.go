// Package store is tierwise's PostgreSQL layer: every SQL statement lives in
// this package, next to the types it reads and writes and the inputs it
// validates. Callers get typed errors (NotFound, Invalid, Conflict) that the
// API maps to 404, 400 and 409 in one place.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tierwise/tierwise/metrics"
)

// Store reads and writes tierwise's data.
type Store struct {
	pool   DB
	config *configCache // the network's configuration, by version
}

// DB is what a store runs on: a pool, or in tests a transaction that is
// rolled back at the end (the store's own transactions are then
// savepoints).
type DB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// New returns a store on db, a *pgxpool.Pool in production.
func New(db DB) *Store {
	return &Store{pool: db, config: &configCache{}}
}

// DefaultMaxConns is the pool size Connect uses when the URL does not set
// pool_max_conns. pgxpool's own default (4 on two cores) makes accepts
// queue for a connection behind pricing transactions.
const DefaultMaxConns = 32

// Connect opens a pool on url (pool_max_conns in the URL overrides
// DefaultMaxConns) whose statements are timed by metrics.QueryTracer.
func Connect(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	cfg.ConnConfig.Tracer = metrics.QueryTracer{}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	return pool, nil
}

// ErrNotFound is returned when a requested row does not exist.
var ErrNotFound = errors.New("not found")

// NotFoundError says what was missing; it matches ErrNotFound.
type NotFoundError struct {
	What string // "partner", "offer", ...
	ID   any
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %v: %v", e.What, e.ID, ErrNotFound) }

// Is reports whether target is ErrNotFound.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// NotFound returns a *NotFoundError: what was missing.
func NotFound(what string, id any) error {
	return &NotFoundError{What: what, ID: id}
}

// ErrConflict is returned when a write contradicts the current state.
var ErrConflict = errors.New("conflict")

// Conflict wraps ErrConflict with an explanation.
func Conflict(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrConflict)
}

// Problem is one thing wrong with an input, naming the field.
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// InvalidError lists every problem of an input at once.
type InvalidError struct {
	Problems []Problem
}

func (e *InvalidError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Message
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Problems collects validation problems.
type Problems []Problem

// Add records a problem with field.
func (p *Problems) Add(field, format string, args ...any) {
	*p = append(*p, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Err returns an *InvalidError when there are problems, else nil.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	return &InvalidError{Problems: p}
}

// Invalid returns an *InvalidError with one problem.
func Invalid(field, format string, args ...any) error {
	var p Problems
	p.Add(field, format, args...)
	return p.Err()
}

// tx runs fn in a transaction, committing when it returns nil; once it has
// committed, the metrics count what it wrote (observedTx).
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	o := &observedTx{}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		o.Tx = tx
		return fn(o)
	})
	if err == nil {
		o.report()
	}
	return err
}

// isUniqueViolation reports whether err is a unique violation of constraint
// (any constraint when constraint is empty).
func isUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && (constraint == "" || pgErr.ConstraintName == constraint)
}

// isForeignKeyViolation reports whether err is a foreign key violation.
func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}
