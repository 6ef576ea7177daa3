package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// TestPostbacks: the middleware counts each postback once, by what it was
// answered, and times only the accepts. The counters are the process's, so
// the test reads how much they moved; the labels it uses are its own.
func TestPostbacks(t *testing.T) {
	t.Parallel()
	answer := func(status int, duplicate bool, convStatus, reason string) http.Handler {
		return Postbacks(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if status == http.StatusOK {
				PostbackAnswered(r.Context(), duplicate, convStatus, reason)
			}
			w.WriteHeader(status)
		}))
	}
	send := func(h http.Handler) {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/postback", nil))
	}
	count := func(result, reason string) float64 {
		return testutil.ToFloat64(postbacks.WithLabelValues(result, reason))
	}

	accepted, duplicate := count(ResultAccepted, ""), count(ResultDuplicate, "")
	rejected, refused := count(ResultRejected, "test_reason"), count(ResultRefused, "418")
	timed := histogramCount(t)

	send(answer(http.StatusOK, false, "approved", ""))
	send(answer(http.StatusOK, false, "pending", ""))
	send(answer(http.StatusOK, true, "rejected", "test_reason")) // a duplicate first
	send(answer(http.StatusOK, false, "rejected", "test_reason"))
	send(answer(http.StatusTeapot, false, "", ""))

	require.Equal(t, accepted+2, count(ResultAccepted, ""), "approved and pending are accepted")
	require.Equal(t, duplicate+1, count(ResultDuplicate, ""))
	require.Equal(t, rejected+1, count(ResultRejected, "test_reason"))
	require.Equal(t, refused+1, count(ResultRefused, "418"), "a refusal is counted by its status code")
	require.Equal(t, timed+4, histogramCount(t), "the four accepts are timed, the refusal is not")

	t.Run("AnsweredOutsideTheMiddleware", func(t *testing.T) {
		t.Parallel()
		// A handler that is not behind the middleware must not panic.
		rec := httptest.NewRecorder()
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			PostbackAnswered(r.Context(), true, "approved", "")
		}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/postback", nil))
		require.Equal(t, http.StatusOK, rec.Code)
	})
}

func histogramCount(t *testing.T) uint64 {
	t.Helper()
	families, err := own.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == "tierwise_postback_accept_duration_seconds" {
			return f.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatal("tierwise_postback_accept_duration_seconds is not exported")
	return 0
}
