package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/tierwise/tierwise/store"
)

type ctxKey int

const (
	partnerIDKey ctxKey = iota
	adminNameKey
)

// configuredAdmin names the admin keys from the configuration
// (TIERWISE_ADMIN_KEY), which have no name of their own, in what an admin
// did (a manual edit's author).
const configuredAdmin = store.ConfiguredKeyName

// adminName is the name of the admin key of a request admitted by
// requireAdmin.
func adminName(r *http.Request) string {
	name, _ := r.Context().Value(adminNameKey).(string)
	return name
}

// bearer returns the request's bearer token. The scheme is
// case-insensitive (RFC 9110 §11.1): "bearer x" is "Bearer x".
func bearer(r *http.Request) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// requireAdmin admits requests with an admin key: one from the configuration
// (TIERWISE_ADMIN_KEY) or one created through the API.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, err := s.store.AdminKey(r.Context(), bearer(r), s.adminKeys)
		switch {
		case errors.Is(err, store.ErrNotFound):
			s.writeError(w, r, errUnauthorized)
		case errors.Is(err, store.ErrNotAllowed):
			s.writeError(w, r, errForbidden)
		case err != nil:
			s.writeError(w, r, err)
		default:
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), adminNameKey, key.Name)))
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
