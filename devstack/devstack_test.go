package devstack_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	postgresschema "go.temporal.io/server/schema/postgresql/v12"

	"github.com/tierwise/tierwise/devstack"
)

// startStack starts a stack in dataDir; persistence "" leaves the choice to
// the stack.
func startStack(t *testing.T, dataDir string, persistence devstack.Persistence) *devstack.Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := devstack.Start(ctx, devstack.Config{
		DataDir:             dataDir,
		APIAddr:             "127.0.0.1:0",
		Logger:              slog.New(slog.DiscardHandler),
		TemporalMetricsAddr: "127.0.0.1:0",
		TemporalPersistence: persistence,
	})
	require.NoError(t, err)
	return s
}

// dataDir is a data directory the postgres system user can reach when the
// tests run as root (t.TempDir's parent is private to root).
func dataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tierwise-devstack-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, "data")
}

func get(t *testing.T, url string) int {
	t.Helper()
	status, _ := getBody(t, url)
	return status
}

func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode, string(body)
}

func processAlive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

func TestDevStackStartsAndStops(t *testing.T) {
	s := startStack(t, dataDir(t), "")
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			s.Stop()
		}
	})

	require.Equal(t, http.StatusOK, get(t, s.APIURL()+"/readyz"))
	require.Equal(t, http.StatusOK, get(t, s.APIURL()+"/healthz"))
	require.Equal(t, http.StatusOK, get(t, s.UIURL()+"/"))
	// One /metrics for the API and the worker (tierwise's, the pool's, the
	// Temporal SDK's), and the embedded server's own.
	status, body := getBody(t, s.MetricsURL())
	require.Equal(t, http.StatusOK, status)
	for _, name := range []string{"tierwise_postbacks_total", "tierwise_unsignalled_conversions", "tierwise_pg_pool_max_connections", "temporal_request_total"} {
		require.Contains(t, body, name)
	}
	require.Equal(t, s.APIURL()+"/metrics", s.MetricsURL())
	temporalMetrics := s.TemporalMetricsURL()
	status, body = getBody(t, temporalMetrics)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "service_requests", "the Temporal server's own metrics")
	status, _ = getBody(t, s.ConsoleURL())
	require.Equal(t, http.StatusOK, status, "the console's sign-in page")

	ctx := context.Background()
	ns, err := s.Client().WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "default"})
	require.NoError(t, err)
	require.Equal(t, "default", ns.GetNamespaceInfo().GetName())

	pg := s.Postgres()
	require.NotNil(t, pg)
	pid := pg.PID()
	require.True(t, processAlive(pid))
	apiURL := s.APIURL()

	s.Stop()
	stopped = true
	require.False(t, processAlive(pid), "PostgreSQL (pid %d) still runs after Stop", pid)
	_, err = http.Get(apiURL + "/healthz")
	require.Error(t, err, "the API still answers after Stop")
	_, err = http.Get(temporalMetrics)
	require.Error(t, err, "the Temporal server's metrics still answer after Stop")
}

func TestDevStackKeepsDataAcrossRestart(t *testing.T) {
	for name, p := range map[string]devstack.Persistence{"SQLite": devstack.PersistenceSQLite, "PostgreSQL": devstack.PersistencePostgres} {
		t.Run(name, func(t *testing.T) {
			dir := dataDir(t)
			s := startStack(t, dir, p)
			require.Equal(t, p, s.TemporalPersistence())
			ctx := context.Background()
			// A workflow type no worker runs: it stays open in the history,
			// which is what must survive the restart.
			run, err := s.Client().ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "restart-check", TaskQueue: "restart-check"}, "RestartCheck")
			require.NoError(t, err)
			s.Stop()

			// Restarted without the flag, the data directory keeps its
			// persistence.
			s = startStack(t, dir, "")
			defer s.Stop()
			require.Equal(t, p, s.TemporalPersistence())
			desc, err := s.Client().DescribeWorkflowExecution(ctx, "restart-check", "")
			require.NoError(t, err)
			require.Equal(t, run.GetRunID(), desc.GetWorkflowExecutionInfo().GetExecution().GetRunId())
			require.Equal(t, http.StatusOK, get(t, s.APIURL()+"/readyz"))
			// The workflow is in visibility too (the Web UI's list).
			require.Eventually(t, func() bool {
				n, err := s.Client().CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: "WorkflowId = 'restart-check'"})
				return err == nil && n.GetCount() == 1
			}, 30*time.Second, 100*time.Millisecond)
		})
	}
}

// TestDevStackTemporalOnPostgres: with PostgreSQL, the Temporal server has
// two databases of its own in the stack's cluster, at the schema versions
// of the server module's schema files, and no SQLite file.
func TestDevStackTemporalOnPostgres(t *testing.T) {
	dir := dataDir(t)
	s := startStack(t, dir, devstack.PersistencePostgres)
	defer s.Stop()
	ctx := context.Background()
	for db, want := range map[string]string{"temporal": postgresschema.Version, "temporal_visibility": postgresschema.VisibilityVersion} {
		conn, err := pgx.Connect(ctx, s.Postgres().URL(db))
		require.NoError(t, err, db)
		var version string
		require.NoError(t, conn.QueryRow(ctx, "SELECT curr_version FROM schema_version WHERE db_name = $1", db).Scan(&version))
		require.Equal(t, want, version, db)
		_ = conn.Close(ctx)
	}
	_, err := os.Stat(filepath.Join(dir, "temporal.db"))
	require.ErrorIs(t, err, os.ErrNotExist)
	// The namespace has its search attributes, and the safety net is there.
	attrs, err := s.Client().OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
	require.NoError(t, err)
	require.Contains(t, attrs.GetCustomAttributes(), "TierwiseCustomer")
	_, err = s.Client().ScheduleClient().GetHandle(ctx, "tierwise-close-ended-cycles").Describe(ctx)
	require.NoError(t, err)
}
