// Package pgtest gives tests a real PostgreSQL: one throwaway cluster per test
// binary, and a fresh, migrated database per test, so tests run in parallel
// without seeing each other's rows.
//
// Set TIERWISE_TEST_DATABASE_URL to use an existing server instead of a
// throwaway cluster; each test still gets a database of its own.
package pgtest

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tierwise/tierwise/migrations"
	"github.com/tierwise/tierwise/pgcluster"
)

var (
	once     sync.Once
	initErr  error
	cluster  *pgcluster.Cluster
	tempDir  string
	adminURL string // the maintenance database of the server
	template string // a migrated database each test database is copied from
	createMu sync.Mutex
	seq      atomic.Int64
)

// Main runs the package's tests and stops the cluster afterwards. Call it from
// TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if sharedPool != nil {
		sharedPool.Close()
	}
	if cluster != nil {
		_ = cluster.Stop()
	}
	if tempDir != "" {
		_ = os.RemoveAll(tempDir)
	}
	os.Exit(code)
}

func setup() error {
	ctx := context.Background()
	adminURL = os.Getenv("TIERWISE_TEST_DATABASE_URL")
	if adminURL == "" {
		dir, err := os.MkdirTemp("", "tierwise-pgtest-")
		if err != nil {
			return err
		}
		tempDir = dir
		logger := slog.New(slog.DiscardHandler)
		cluster, err = pgcluster.Start(ctx, pgcluster.Config{Dir: filepath.Join(dir, "data"), Logger: logger})
		if err != nil {
			return err
		}
		adminURL = cluster.URL("postgres")
	}
	template = fmt.Sprintf("tierwise_template_%d", os.Getpid())
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+template); err != nil {
		return fmt.Errorf("drop template: %w", err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+template); err != nil {
		return fmt.Errorf("create template: %w", err)
	}
	if _, err := migrations.Up(databaseURL(template)); err != nil {
		return fmt.Errorf("migrate template: %w", err)
	}
	return nil
}

// ServerURL is the URL of the maintenance database of the test server, for
// tests that create databases of their own.
func ServerURL(t testing.TB) string {
	t.Helper()
	once.Do(func() { initErr = setup() })
	if initErr != nil {
		t.Fatalf("pgtest: %v", initErr)
	}
	return adminURL
}

// EmptyDatabase creates a database with no schema and returns its URL. It is
// dropped when the test ends.
func EmptyDatabase(t testing.TB) string {
	t.Helper()
	return create(t, "")
}

// Database creates a migrated database for the test and returns its URL. It is
// dropped when the test ends.
func Database(t testing.TB) string {
	t.Helper()
	ServerURL(t)
	return create(t, template)
}

// Pool returns a pool on a fresh migrated database, closed when the test ends.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), Database(t))
	if err != nil {
		t.Fatalf("pgtest: pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func create(t testing.TB, from string) string {
	t.Helper()
	admin := ServerURL(t)
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), seq.Add(1))
	stmt := "CREATE DATABASE " + name
	if from != "" {
		stmt += " TEMPLATE " + from
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	// Copying one template twice at once fails ("source database is being
	// accessed by other users"), so copies are made one at a time.
	createMu.Lock()
	_, err = conn.Exec(ctx, stmt)
	createMu.Unlock()
	if err != nil {
		t.Fatalf("pgtest: %s: %v", stmt, err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return databaseURL(name)
}

func databaseURL(name string) string {
	u, err := url.Parse(adminURL)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

var (
	sharedOnce sync.Once
	sharedPool *pgxpool.Pool
	sharedErr  error
)

// Tx returns a transaction on one migrated database that the package's
// tests share, rolled back when the test ends (River's test-transaction
// habit): fast, and invisible to every other test. A store on it runs its
// own transactions as savepoints. Tests that need several connections at
// once (concurrency, LISTEN, commits seen by a worker) use Database or Pool.
func Tx(t testing.TB) pgx.Tx {
	t.Helper()
	ServerURL(t)
	sharedOnce.Do(func() {
		// The shared database outlives every test, so it is not created
		// through create, which drops it at the first test's cleanup.
		name := fmt.Sprintf("tierwise_shared_%d", os.Getpid())
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			sharedErr = fmt.Errorf("connect: %w", err)
			return
		}
		defer conn.Close(ctx)
		createMu.Lock()
		_, err = conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+template)
		createMu.Unlock()
		if err != nil {
			sharedErr = fmt.Errorf("create shared database: %w", err)
			return
		}
		sharedPool, sharedErr = pgxpool.New(ctx, databaseURL(name))
	})
	if sharedErr != nil {
		t.Fatalf("pgtest: %v", sharedErr)
	}
	tx, err := sharedPool.Begin(context.Background())
	if err != nil {
		t.Fatalf("pgtest: begin: %v", err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return tx
}
