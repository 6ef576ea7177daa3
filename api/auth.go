package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/tierwise/tierwise/store"
)

type ctxKey int

const partnerIDKey ctxKey = iota

// bearer returns the request's bearer token.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if token, ok := strings.CutPrefix(h, "Bearer "); ok {
		return strings.TrimSpace(token)
	}
	return ""
}

// requireAdmin admits requests with an admin key: one from the configuration
// (TIERWISE_ADMIN_KEY) or one created through the API.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := s.store.AdminKey(r.Context(), bearer(r), s.adminKeys)
		switch {
		case errors.Is(err, store.ErrNotFound):
			s.writeError(w, r, errUnauthorized)
		case errors.Is(err, store.ErrNotAllowed):
			s.writeError(w, r, errForbidden)
		case err != nil:
			s.writeError(w, r, err)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// requirePartner admits requests with a partner key and puts the partner's id
// in the context.
func (s *Server) requirePartner(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, err := s.store.LookupAPIKey(r.Context(), bearer(r))
		switch {
		case errors.Is(err, store.ErrNotFound):
			s.writeError(w, r, errUnauthorized)
		case err != nil:
			s.writeError(w, r, err)
		case key.Kind != store.KeyPartner:
			s.writeError(w, r, errForbidden)
		default:
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), partnerIDKey, key.PartnerID)))
		}
	})
}

// partnerID is the partner of a request admitted by requirePartner.
func partnerID(r *http.Request) int64 {
	id, _ := r.Context().Value(partnerIDKey).(int64)
	return id
}
