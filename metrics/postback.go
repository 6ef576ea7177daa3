package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5/middleware"
)

// outcome is what the postback handler answered, told through the request's
// context by PostbackAnswered.
type outcome struct {
	set            bool
	result, reason string
}

type outcomeKey struct{}

// Postbacks is the middleware of the postback routes: it counts every
// postback in tierwise_postbacks_total (a refused one by its HTTP status
// code) and times those answered 200 in
// tierwise_postback_accept_duration_seconds. The handler tells it what it
// answered with PostbackAnswered.
func Postbacks(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		o := new(outcome)
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r.WithContext(context.WithValue(r.Context(), outcomeKey{}, o)))
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		if !o.set || status != http.StatusOK {
			postbacks.WithLabelValues(ResultRefused, strconv.Itoa(status)).Inc()
			return
		}
		postbacks.WithLabelValues(o.result, o.reason).Inc()
		acceptDuration.Observe(time.Since(start).Seconds())
	})
}

// PostbackAnswered tells the Postbacks middleware what the postback of ctx
// was answered: a duplicate, a conversion stored with status (rejected ones
// with their reason). It does nothing outside the middleware.
func PostbackAnswered(ctx context.Context, duplicate bool, status, reason string) {
	o, ok := ctx.Value(outcomeKey{}).(*outcome)
	if !ok {
		return
	}
	o.set = true
	switch {
	case duplicate:
		o.result, o.reason = ResultDuplicate, ""
	case status == "rejected":
		o.result, o.reason = ResultRejected, reason
	default:
		o.result, o.reason = ResultAccepted, ""
	}
}
