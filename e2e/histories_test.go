package e2e

import (
	"context"
	"flag"
	"os"
	"path/filepath"

	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// updateHistories rewrites the workflow histories that the workflows
// package replays (go test ./e2e -run 'HighValueTrader|TenToTwenty' -update-histories).
var updateHistories = flag.Bool("update-histories", false, "write the workflows' histories to workflows/testdata for the replay test")

// saveHistory writes a workflow's history to workflows/testdata/name when
// -update-histories is set.
func (b *testBundle) saveHistory(workflowID, name string) {
	b.t.Helper()
	if !*updateHistories {
		return
	}
	iter := b.temporal.Client().GetWorkflowHistory(context.Background(), workflowID, "", false, 0)
	var h historypb.History
	for iter.HasNext() {
		e, err := iter.Next()
		require.NoError(b.t, err)
		h.Events = append(h.Events, e)
	}
	raw, err := protojson.MarshalOptions{Indent: "  "}.Marshal(&h)
	require.NoError(b.t, err)
	require.NoError(b.t, os.WriteFile(filepath.Join("..", "workflows", "testdata", name), raw, 0o644))
}
