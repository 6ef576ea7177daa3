package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/go-chi/chi/v5/middleware"
	"go.temporal.io/sdk/activity"
)

// contextHandler adds to each record logged with a context the ids the
// context carries, where the record does not name them itself: the HTTP
// request's request_id, an activity's workflow_id. A line logged while
// serving a request or running an activity can then be found from the
// request or the workflow.
type contextHandler struct {
	slog.Handler
}

// Handle implements slog.Handler.
func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if id := middleware.GetReqID(ctx); id != "" && !hasAttr(r, "request_id") {
			r.AddAttrs(slog.String("request_id", id))
		}
		if activity.IsActivity(ctx) && !hasAttr(r, "workflow_id") {
			r.AddAttrs(slog.String("workflow_id", activity.GetInfo(ctx).WorkflowExecution.ID))
		}
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}

func hasAttr(r slog.Record, key string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}

// maxLogValue bounds a logged string or error: a log line never carries a
// whole large parameter (a 100 KB user_id, a request body echoed in an
// error), only its start and its size.
const maxLogValue = 1024

// boundValue is the loggers' ReplaceAttr: it cuts strings and errors to
// maxLogValue bytes.
func boundValue(_ []string, a slog.Attr) slog.Attr {
	var s string
	switch a.Value.Kind() {
	case slog.KindString:
		s = a.Value.String()
	case slog.KindAny:
		err, ok := a.Value.Any().(error)
		if !ok {
			return a
		}
		s = err.Error()
	default:
		return a
	}
	if len(s) > maxLogValue {
		// A rune cut in two is dropped rather than left invalid.
		a.Value = slog.StringValue(fmt.Sprintf("%s… (%d bytes)", strings.ToValidUTF8(s[:maxLogValue], ""), len(s)))
	}
	return a
}
