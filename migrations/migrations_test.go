package migrations_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/internal/pgtest"
	"github.com/tierwise/tierwise/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestMigrationsUpFromEmpty(t *testing.T) {
	t.Parallel()
	url := pgtest.EmptyDatabase(t)

	before, err := migrations.Version(url)
	require.NoError(t, err)
	require.Zero(t, before.Version)
	require.NotZero(t, before.Latest)

	v, err := migrations.Up(url)
	require.NoError(t, err)
	require.Equal(t, before.Latest, v)

	after, err := migrations.Version(url)
	require.NoError(t, err)
	require.Equal(t, migrations.Status{Version: before.Latest, Latest: before.Latest}, after)
	requireSchema(t, url)

	// Up again is a no-op.
	v, err = migrations.Up(url)
	require.NoError(t, err)
	require.Equal(t, before.Latest, v)
}

func TestMigrationsConcurrent(t *testing.T) {
	t.Parallel()
	url := pgtest.EmptyDatabase(t)

	const migrators = 4
	var wg sync.WaitGroup
	errs := make([]error, migrators)
	versions := make([]uint, migrators)
	for i := range migrators {
		wg.Go(func() { versions[i], errs[i] = migrations.Up(url) })
	}
	wg.Wait()

	latest, err := migrations.Latest()
	require.NoError(t, err)
	for i := range migrators {
		require.NoError(t, errs[i], "migrator %d", i)
		require.Equal(t, latest, versions[i], "migrator %d", i)
	}
	s, err := migrations.Version(url)
	require.NoError(t, err)
	require.False(t, s.Dirty)
	require.Equal(t, latest, s.Version)
	requireSchema(t, url)
}

// requireSchema checks that the schema is whole: the network row exists once.
func requireSchema(t *testing.T, url string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var n int
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM network").Scan(&n))
	require.Equal(t, 1, n)
}
