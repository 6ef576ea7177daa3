package devstack

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	postgresplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
)

// TestTemporalPersistenceOfADataDirectory: what a data directory's Temporal
// server persists to, from the flag, the directory's record and its files.
func TestTemporalPersistenceOfADataDirectory(t *testing.T) {
	t.Parallel()
	decide := func(t *testing.T, dir string, flag Persistence) Persistence {
		t.Helper()
		p, err := temporalPersistence(Config{DataDir: dir, TemporalPersistence: flag, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		return p
	}
	write := func(t *testing.T, dir, name, content string) {
		t.Helper()
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}

	t.Run("NewDirectoryGetsTheDefault", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, DefaultTemporalPersistence, decide(t, t.TempDir(), ""))
	})
	t.Run("DirectoryFromBeforeKeepsSQLite", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		write(t, dir, "temporal.db", "")
		require.Equal(t, PersistenceSQLite, decide(t, dir, ""))
		require.Equal(t, PersistencePostgres, decide(t, dir, PersistencePostgres), "unless told otherwise")
	})
	t.Run("DirectoryKeepsItsLastChoice", func(t *testing.T) {
		t.Parallel()
		for _, p := range Persistences {
			dir := t.TempDir()
			write(t, dir, "temporal.db", "") // what SQLite left, once
			write(t, dir, temporalPersistenceFile, string(p)+"\n")
			require.Equal(t, p, decide(t, dir, ""))
		}
	})
	t.Run("FlagWins", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		write(t, dir, temporalPersistenceFile, "postgres\n")
		require.Equal(t, PersistenceSQLite, decide(t, dir, PersistenceSQLite))
	})
	t.Run("UnknownIsAnError", func(t *testing.T) {
		t.Parallel()
		_, err := temporalPersistence(Config{DataDir: t.TempDir(), TemporalPersistence: "mysql", Logger: slog.New(slog.DiscardHandler)})
		require.ErrorContains(t, err, `"mysql"`)
		dir := t.TempDir()
		write(t, dir, temporalPersistenceFile, "cassandra\n")
		_, err = temporalPersistence(Config{DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
		require.ErrorContains(t, err, temporalPersistenceFile)
	})
}

func TestPostgresConfig(t *testing.T) {
	t.Parallel()
	t.Run("FromURL", func(t *testing.T) {
		t.Parallel()
		cfg, err := postgresConfig("postgres://tw:s3cret@127.0.0.1:5433/temporal?sslmode=disable")
		require.NoError(t, err)
		require.Equal(t, postgresplugin.PluginNamePGX, cfg.PluginName)
		require.Equal(t, "127.0.0.1:5433", cfg.ConnectAddr)
		require.Equal(t, "tw", cfg.User)
		require.Equal(t, "s3cret", cfg.Password)
		require.Equal(t, "temporal", cfg.DatabaseName)
		require.Equal(t, map[string]string{"sslmode": "disable"}, cfg.ConnectAttributes)
		require.Equal(t, postgresMaxConns, cfg.MaxConns)
	})
	t.Run("DefaultPort", func(t *testing.T) {
		t.Parallel()
		cfg, err := postgresConfig("postgresql://tw@db.internal/temporal")
		require.NoError(t, err)
		require.Equal(t, "db.internal:5432", cfg.ConnectAddr)
	})
	t.Run("Refused", func(t *testing.T) {
		t.Parallel()
		for _, raw := range []string{
			"host=localhost dbname=temporal",        // a keyword/value DSN
			"mysql://tw:s3cret@127.0.0.1/temporal",  // another database
			"postgres://tw:s3cret@127.0.0.1:5433/",  // no database
			"postgres://tw:s3cret@127.0.0.1:5433",   // no database
			"postgres:///temporal?host=/run/socket", // no host
		} {
			_, err := postgresConfig(raw)
			require.Error(t, err, raw)
			require.NotContains(t, err.Error(), "s3cret", "the password stays out of errors")
		}
	})
	t.Run("WithDatabase", func(t *testing.T) {
		t.Parallel()
		u, err := withDatabase("postgres://tw@127.0.0.1:5433/tierwise?sslmode=disable", "temporal_visibility")
		require.NoError(t, err)
		require.Equal(t, "postgres://tw@127.0.0.1:5433/temporal_visibility?sslmode=disable", u)
	})
}
