package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
)

// testLogger is the binary's logger writing JSON lines into a buffer.
func testLogger() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	opts := &slog.HandlerOptions{ReplaceAttr: boundValue}
	return slog.New(contextHandler{slog.NewJSONHandler(&buf, opts)}), &buf
}

func lastLine(t *testing.T, buf *bytes.Buffer) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &m))
	return m
}

// TestLogLinesCarryTheirContext: a line logged while serving a request names
// the request, one logged in an activity names its workflow, once each; no
// value is logged whole past a kilobyte.
func TestLogLinesCarryTheirContext(t *testing.T) {
	t.Parallel()

	t.Run("RequestID", func(t *testing.T) {
		t.Parallel()
		logger, buf := testLogger()
		h := middleware.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			logger.InfoContext(r.Context(), "in a request", "conversion_id", 7)
			logger.InfoContext(r.Context(), "named already", "request_id", "mine")
		}))
		req := httptest.NewRequest(http.MethodGet, "/postback", nil)
		req.Header.Set(middleware.RequestIDHeader, "req-42")
		h.ServeHTTP(httptest.NewRecorder(), req)
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		require.Len(t, lines, 2)
		require.Contains(t, lines[0], `"request_id":"req-42"`)
		require.Contains(t, lines[0], `"conversion_id":7`)
		require.Equal(t, 1, strings.Count(lines[1], "request_id"), "not named twice")
		require.Contains(t, lines[1], `"request_id":"mine"`)
	})

	t.Run("WorkflowID", func(t *testing.T) {
		t.Parallel()
		logger, buf := testLogger()
		var suite testsuite.WorkflowTestSuite
		env := suite.NewTestActivityEnvironment()
		logInActivity := func(ctx context.Context) error {
			logger.WarnContext(ctx, "in an activity")
			return nil
		}
		env.RegisterActivity(logInActivity)
		_, err := env.ExecuteActivity(logInActivity)
		require.NoError(t, err)
		line := lastLine(t, buf)
		require.NotEmpty(t, line["workflow_id"], "the activity's workflow")
	})

	t.Run("NoWholeLargeValue", func(t *testing.T) {
		t.Parallel()
		logger, buf := testLogger()
		huge := strings.Repeat("é", 50_000) // 100 KB, two bytes a rune
		logger.Warn("refused", "user_id", huge, "error", errors.New("bad user_id "+huge))
		require.Less(t, buf.Len(), 3*maxLogValue)
		line := lastLine(t, buf)
		require.Contains(t, line["user_id"], "(100000 bytes)")
		require.Contains(t, line["error"], "(100012 bytes)")
		require.True(t, strings.HasPrefix(line["user_id"].(string), "éé"))
	})
}
