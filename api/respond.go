package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tierwise/tierwise/limits"
	"github.com/tierwise/tierwise/reports"
	"github.com/tierwise/tierwise/store"
)

// errorBody is every error response: a code, a message and, for invalid
// input, each problem with the field it concerns.
type errorBody struct {
	Error struct {
		Code     string          `json:"code"`
		Message  string          `json:"message"`
		Problems []store.Problem `json:"problems,omitempty"`
	} `json:"error"`
}

// writeError maps the store's error kinds to HTTP statuses in one place.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var body errorBody
	status := http.StatusInternalServerError
	var invalid *store.InvalidError
	switch {
	case errors.As(err, &invalid):
		status = http.StatusBadRequest
		body.Error.Code = "invalid"
		body.Error.Problems = invalid.Problems
	case errors.Is(err, store.ErrNotFound):
		status = http.StatusNotFound
		body.Error.Code = "not_found"
	case errors.Is(err, store.ErrConflict):
		status = http.StatusConflict
		body.Error.Code = "conflict"
	case errors.Is(err, errUnauthorized):
		status = http.StatusUnauthorized
		body.Error.Code = "unauthorized"
	case errors.Is(err, errForbidden), errors.Is(err, store.ErrNotAllowed):
		status = http.StatusForbidden
		body.Error.Code = "forbidden"
	case errors.Is(err, errMethodNotAllowed):
		status = http.StatusMethodNotAllowed
		body.Error.Code = "method_not_allowed"
	default:
		body.Error.Code = "internal"
	}
	body.Error.Message = err.Error()
	if status == http.StatusInternalServerError {
		s.logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		body.Error.Message = "internal error"
	}
	writeJSON(w, status, body)
}

var (
	errUnauthorized = errors.New("missing or unknown API key")
	errForbidden    = errors.New("this key may not do that")
	// errMethodNotAllowed is a route that exists, asked with another method.
	errMethodNotAllowed = errors.New("method not allowed")
)

// page is a cursor pagination request: items with an id after After, at most
// Limit of them.
type page struct {
	After int64
	Limit int
}

const defaultLimit, maxLimit = 50, 500

// parsePage reads ?after= and ?limit=.
func parsePage(r *http.Request) (page, error) {
	p := page{Limit: defaultLimit}
	var problems store.Problems
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			problems.Add("after", "must be a cursor from next_cursor")
		}
		p.After = n
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			problems.Add("limit", "must be between 1 and %d", maxLimit)
		}
		p.Limit = n
	}
	return p, problems.Err()
}

// list is a page of items; NextCursor is empty on the last page.
type list[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// newList builds a page from items fetched with limit+1, so a full page
// knows whether more follow. id returns an item's cursor.
func newList[T any](items []T, p page, id func(T) int64) list[T] {
	l := list[T]{Items: items}
	if l.Items == nil {
		l.Items = []T{}
	}
	if len(items) > p.Limit {
		l.Items = items[:p.Limit]
		l.NextCursor = fmt.Sprint(id(l.Items[p.Limit-1]))
	}
	return l
}

// pathText reads a text parameter of the URL path, unescaped. chi routes on
// the escaped path when the path has escapes its decoded form cannot show
// (a %2F in a user_id: a/b/c is one segment), and its parameters are then
// escaped too.
func pathText(r *http.Request, name string, max int) (string, error) {
	v := chi.URLParam(r, name)
	if r.URL.RawPath != "" {
		u, err := url.PathUnescape(v)
		if err != nil {
			return "", store.Invalid(name, "is not a valid escaped path segment")
		}
		v = u
	}
	if err := limits.Text(v, max, false); err != nil {
		return "", store.Invalid(name, "%v", err)
	}
	return v, nil
}

// pathID reads a numeric id from the URL path.
func pathID(r *http.Request, name string) (int64, error) {
	v := chi.URLParam(r, name)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, store.Invalid(name, "must be a positive integer, got %q", v)
	}
	return n, nil
}

// parseRange reads a from–to range (reports.ParseRange) in the network's
// zone.
func (s *Server) parseRange(ctx context.Context, from, to string) (time.Time, time.Time, error) {
	loc, err := s.store.NetworkTimeZone(ctx)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	return reports.ParseRange(from, to, loc)
}
