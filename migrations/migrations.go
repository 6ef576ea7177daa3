// Package migrations holds tierwise's PostgreSQL schema as numbered SQL files
// and applies them with golang-migrate. Applying is safe from several
// processes at once: golang-migrate holds a PostgreSQL advisory lock while it
// reads and moves the version.
package migrations

import (
	"embed"
	"errors"
	"fmt"
	"net/url"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5" // registers pgx5://
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

//go:embed *.sql
var files embed.FS

// Up applies every migration not yet applied to the database at databaseURL
// and returns the resulting version.
func Up(databaseURL string) (uint, error) {
	m, err := open(databaseURL)
	if err != nil {
		return 0, err
	}
	defer m.Close()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return 0, fmt.Errorf("migrate up: %w", err)
	}
	v, _, err := m.Version()
	if err != nil {
		return 0, fmt.Errorf("migrate version: %w", err)
	}
	return v, nil
}

// Status is the schema version of a database and the newest one this build
// knows.
type Status struct {
	Version uint // 0 when no migration was applied
	Dirty   bool // a migration failed half-way and needs an operator
	Latest  uint
}

// Version reports the database's schema version.
func Version(databaseURL string) (Status, error) {
	m, err := open(databaseURL)
	if err != nil {
		return Status{}, err
	}
	defer m.Close()
	var s Status
	s.Version, s.Dirty, err = m.Version()
	if err != nil && !errors.Is(err, migrate.ErrNilVersion) {
		return Status{}, fmt.Errorf("migrate version: %w", err)
	}
	if s.Latest, err = Latest(); err != nil {
		return Status{}, err
	}
	return s, nil
}

// Latest is the newest migration version embedded in this build.
func Latest() (uint, error) {
	src, err := iofs.New(files, ".")
	if err != nil {
		return 0, fmt.Errorf("read migrations: %w", err)
	}
	defer src.Close()
	v, err := src.First()
	if err != nil {
		return 0, fmt.Errorf("read migrations: %w", err)
	}
	for {
		next, err := src.Next(v)
		if err != nil {
			return v, nil
		}
		v = next
	}
}

func open(databaseURL string) (*migrate.Migrate, error) {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, fmt.Errorf("database URL: scheme %q, want postgres://", u.Scheme)
	}
	u.Scheme = "pgx5"
	src, err := iofs.New(files, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	m, err := migrate.NewWithSourceInstance("iofs", src, u.String())
	if err != nil {
		return nil, fmt.Errorf("connect for migrations: %w", err)
	}
	return m, nil
}
