package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/metrics"
	"go.temporal.io/server/common/persistence/sql"
	"go.temporal.io/server/common/persistence/sql/sqlplugin"
	postgresplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/resolver"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	schematool "go.temporal.io/server/tools/common/schema"
	sqltool "go.temporal.io/server/tools/sql"
)

// Persistence is where an embedded Temporal server keeps its state.
type Persistence string

const (
	// PersistenceSQLite keeps it in SQLite files in the data directory
	// (modernc's pure-Go SQLite, inside this process).
	PersistenceSQLite Persistence = "sqlite"
	// PersistencePostgres keeps it in databases of its own on a PostgreSQL
	// server (the dev stack's cluster), through the server's pgx plugin.
	PersistencePostgres Persistence = "postgres"
)

// Persistences lists the choices, for help texts and errors.
var Persistences = []Persistence{PersistenceSQLite, PersistencePostgres}

// Validate reports an unknown persistence.
func (p Persistence) Validate() error {
	if !slices.Contains(Persistences, p) {
		return fmt.Errorf("unknown Temporal persistence %q (one of sqlite, postgres)", string(p))
	}
	return nil
}

// historyStore is the name of the server's default data store in its
// configuration.
const historyStore = "default"

// The server's PostgreSQL schemas, as its schema tool names them in the
// schema files embedded in the server module (schema/postgresql/v12).
const (
	postgresSchema           = "postgresql/v12/temporal"
	postgresVisibilitySchema = "postgresql/v12/visibility"
)

// postgresMaxConns bounds each of the server's connection pools (each of
// its services opens its own per store); 20 is the server's own
// development configuration.
const postgresMaxConns = 20

// stores are the SQL data stores of the server: history (everything but
// visibility) and, when it has one of its own, visibility.
type stores struct {
	history, visibility *config.SQL
}

// prepareStores creates the server's databases and their schemas where they
// are missing, and forgets the cluster membership of an earlier run.
func prepareStores(ctx context.Context, cfg TemporalConfig) (stores, error) {
	var st stores
	var err error
	switch cfg.Persistence {
	case PersistencePostgres:
		st, err = postgresStores(ctx, cfg)
	default:
		st, err = sqliteStores(cfg)
	}
	if err != nil {
		return stores{}, err
	}
	if err := forgetMembership(st.history); err != nil {
		return stores{}, err
	}
	return st, nil
}

func sqliteStores(cfg TemporalConfig) (stores, error) {
	if cfg.DatabaseFile == "" {
		return stores{}, errors.New("temporal: DatabaseFile is required with SQLite")
	}
	history := &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: cfg.DatabaseFile,
		// Keys other than the plugin's query parameters (mode, cache, ...)
		// are pragmas, named without a leading underscore.
		ConnectAttributes: map[string]string{
			"mode":         "rwc",
			"journal_mode": "wal",
			"synchronous":  "normal",
		},
	}
	// Visibility gets a file of its own: its writes (a row with dozens of
	// indexes per upsert) then do not queue behind the history writes on
	// the one SQLite connection a file allows. A data directory from before
	// keeps its visibility in the main file.
	visibility := *history
	visibility.DatabaseName = strings.TrimSuffix(cfg.DatabaseFile, filepath.Ext(cfg.DatabaseFile)) + "-visibility" + filepath.Ext(cfg.DatabaseFile)
	if _, err := os.Stat(cfg.DatabaseFile); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(cfg.DatabaseFile), 0o755); err != nil {
			return stores{}, fmt.Errorf("temporal: create data directory: %w", err)
		}
		if err := sqliteschema.SetupSchema(history); err != nil {
			return stores{}, fmt.Errorf("temporal: set up SQLite schema: %w", err)
		}
		if err := sqliteschema.SetupSchema(&visibility); err != nil {
			return stores{}, fmt.Errorf("temporal: set up SQLite visibility schema: %w", err)
		}
	}
	st := stores{history: history}
	if _, err := os.Stat(visibility.DatabaseName); err == nil {
		st.visibility = &visibility
	}
	return st, nil
}

func postgresStores(ctx context.Context, cfg TemporalConfig) (stores, error) {
	if cfg.PostgresURL == "" {
		return stores{}, errors.New("temporal: PostgresURL is required with PostgreSQL")
	}
	history, err := postgresConfig(cfg.PostgresURL)
	if err != nil {
		return stores{}, err
	}
	visibilityURL := cfg.PostgresVisibilityURL
	if visibilityURL == "" {
		if visibilityURL, err = withDatabase(cfg.PostgresURL, history.DatabaseName+"_visibility"); err != nil {
			return stores{}, err
		}
	}
	visibility, err := postgresConfig(visibilityURL)
	if err != nil {
		return stores{}, err
	}
	if visibility.DatabaseName == history.DatabaseName && visibility.ConnectAddr == history.ConnectAddr {
		// The schema tool keeps one version row per database name.
		return stores{}, errors.New("temporal: PostgreSQL visibility needs a database of its own")
	}
	for _, s := range []struct {
		url, schema string
		sql         *config.SQL
	}{{cfg.PostgresURL, postgresSchema, history}, {visibilityURL, postgresVisibilitySchema, visibility}} {
		if err := createDatabase(ctx, s.url); err != nil {
			return stores{}, err
		}
		if err := applySchema(s.sql, s.schema); err != nil {
			return stores{}, err
		}
	}
	return stores{history: history, visibility: visibility}, nil
}

// postgresConfig turns a postgres:// URL into the server's SQL
// configuration for its pgx plugin.
func postgresConfig(raw string) (*config.SQL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return nil, fmt.Errorf("temporal: PostgreSQL URL: want postgres://user@host:port/database, got %q", redact(raw))
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" {
		return nil, fmt.Errorf("temporal: PostgreSQL URL %q names no database", redact(raw))
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "5432"
	}
	password, _ := u.User.Password()
	attrs := map[string]string{}
	for k, v := range u.Query() {
		attrs[k] = v[len(v)-1]
	}
	return &config.SQL{
		PluginName:        postgresplugin.PluginNamePGX,
		User:              u.User.Username(),
		Password:          password,
		DatabaseName:      name,
		ConnectAddr:       net.JoinHostPort(host, port),
		ConnectProtocol:   "tcp",
		ConnectAttributes: attrs,
		MaxConns:          postgresMaxConns,
		MaxIdleConns:      postgresMaxConns,
	}, nil
}

// withDatabase returns the URL with another database name.
func withDatabase(raw, database string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("temporal: PostgreSQL URL %q: %w", redact(raw), err)
	}
	u.Path = "/" + database
	return u.String(), nil
}

// redact hides a URL's password in errors.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// createDatabase creates the URL's database when it does not exist,
// connected to the same server's maintenance database.
func createDatabase(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("temporal: PostgreSQL URL %q: %w", redact(raw), err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	maintenance, err := withDatabase(raw, "postgres")
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, maintenance)
	if err != nil {
		return fmt.Errorf("temporal: connect to PostgreSQL at %s: %w", u.Host, err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("temporal: look for database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // created by someone else meanwhile
		return nil
	}
	if err != nil {
		return fmt.Errorf("temporal: create database %q: %w", name, err)
	}
	return nil
}

// applySchema brings a database to the server's schema as the server's
// schema tool (temporal-sql-tool) does it: a new database gets the version
// tables at version 0.0 ("setup-schema -v 0.0"), then every versioned
// change above its version is applied from the schema files embedded in the
// server module ("update-schema"): the whole schema the first time, nothing
// at a later start, and the new versions after an upgrade of the server.
func applySchema(cfg *config.SQL, schemaName string) error {
	logger := log.NewNoopLogger()
	conn, err := sqltool.NewConnection(cfg, logger)
	if err != nil {
		return fmt.Errorf("temporal: connect to PostgreSQL database %q: %w", cfg.DatabaseName, err)
	}
	defer conn.Close()
	tables, err := conn.ListTables()
	if err != nil {
		return fmt.Errorf("temporal: list the tables of %q: %w", cfg.DatabaseName, err)
	}
	switch {
	case len(tables) == 0:
		setup := schematool.NewSetupSchemaTask(conn, &schematool.SetupConfig{InitialVersion: "0.0"}, logger)
		if err := setup.Run(); err != nil {
			return fmt.Errorf("temporal: set up the schema version of %q: %w", cfg.DatabaseName, err)
		}
	case !slices.Contains(tables, "schema_version"):
		return fmt.Errorf("temporal: database %q has tables but no schema_version: it is not a Temporal database", cfg.DatabaseName)
	}
	update := schematool.NewUpdateSchemaTask(conn, &schematool.UpdateConfig{SchemaName: schemaName}, logger)
	if err := update.Run(); err != nil {
		return fmt.Errorf("temporal: apply schema %s to %q: %w", schemaName, cfg.DatabaseName, err)
	}
	return nil
}

// forgetMembership deletes the cluster membership of earlier runs. The
// server is the only member of its cluster and its internal services get
// new ports at each start; the stale rows would have history dispatch tasks
// to the previous run's matching service, and workflows would stall.
func forgetMembership(cfg *config.SQL) error {
	db, err := sql.NewSQLAdminDB(sqlplugin.DbKindUnknown, cfg, resolver.NewNoopResolver(), log.NewNoopLogger(), metrics.NoopMetricsHandler)
	if err != nil {
		return fmt.Errorf("temporal: open the server's database: %w", err)
	}
	defer func() { _ = db.Close() }()
	if err := db.Exec("DELETE FROM cluster_membership"); err != nil {
		return fmt.Errorf("temporal: forget earlier cluster membership: %w", err)
	}
	return nil
}
