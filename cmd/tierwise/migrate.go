package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/tierwise/tierwise/migrations"
)

const migrateUsage = `Usage: tierwise migrate [up|version]

  up       apply every migration not yet applied (the default); safe to run
           from several processes at once
  version  print the database's schema version and the newest one this
           build knows

Environment:
  DATABASE_URL  PostgreSQL connection string (required)
`

func runMigrate(_ context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("migrate", migrateUsage, stdout)
	if err := fs.Parse(args); err != nil {
		return err
	}
	url := env("DATABASE_URL", "")
	if url == "" {
		return errors.New("DATABASE_URL is required")
	}
	switch fs.Arg(0) {
	case "", "up":
		v, err := migrations.Up(url)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "schema at version %d\n", v)
	case "version":
		s, err := migrations.Version(url)
		if err != nil {
			return err
		}
		dirty := ""
		if s.Dirty {
			dirty = " (dirty: a migration failed half-way)"
		}
		fmt.Fprintf(stdout, "version %d%s, latest %d\n", s.Version, dirty, s.Latest)
	default:
		return fmt.Errorf("unknown migrate command %q", fs.Arg(0))
	}
	return nil
}
