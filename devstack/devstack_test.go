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

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/tierwise/tierwise/devstack"
)

func startStack(t *testing.T, dataDir string) *devstack.Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := devstack.Start(ctx, devstack.Config{
		DataDir:             dataDir,
		APIAddr:             "127.0.0.1:0",
		Logger:              slog.New(slog.DiscardHandler),
		TemporalMetricsAddr: "127.0.0.1:0",
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
	s := startStack(t, dataDir(t))
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
	dir := dataDir(t)
	s := startStack(t, dir)
	ctx := context.Background()
	// A workflow type no worker runs: it stays open in the history, which is
	// what must survive the restart.
	run, err := s.Client().ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "restart-check", TaskQueue: "restart-check"}, "RestartCheck")
	require.NoError(t, err)
	s.Stop()

	s = startStack(t, dir)
	defer s.Stop()
	desc, err := s.Client().DescribeWorkflowExecution(ctx, "restart-check", "")
	require.NoError(t, err)
	require.Equal(t, run.GetRunID(), desc.GetWorkflowExecutionInfo().GetExecution().GetRunId())
	require.Equal(t, http.StatusOK, get(t, s.APIURL()+"/readyz"))
}
