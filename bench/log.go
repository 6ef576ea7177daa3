package bench

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// logCounter counts the records an embedded stack logs at its handler's
// level and passes on the first logLimit of them, so a stack in trouble
// does not drown the progress lines.
type logCounter struct {
	count atomic.Int64
}

const logLimit = 20

func (c *logCounter) wrap(h slog.Handler) slog.Handler { return &countingHandler{next: h, c: c} }

type countingHandler struct {
	next slog.Handler
	c    *logCounter
}

func (h *countingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *countingHandler) Handle(ctx context.Context, r slog.Record) error {
	n := h.c.count.Add(1)
	switch {
	case n < logLimit:
		return h.next.Handle(ctx, r)
	case n == logLimit:
		r.Message += " (further log records are counted, not shown)"
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *countingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &countingHandler{next: h.next.WithAttrs(attrs), c: h.c}
}

func (h *countingHandler) WithGroup(name string) slog.Handler {
	return &countingHandler{next: h.next.WithGroup(name), c: h.c}
}
