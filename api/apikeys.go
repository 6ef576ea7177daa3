package api

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/tierwise/tierwise/store"
)

// apiKeyRoutes list, create and revoke API keys. Partner keys are created
// under their partner (POST /partners/{id}/api-keys).
func (s *Server) apiKeyRoutes(r chi.Router) {
	r.Get("/api-keys", s.listAPIKeys)
	r.Post("/api-keys", s.createAdminKey)
	r.Delete("/api-keys/{id}", s.revokeAPIKey)
}

func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	p, f, err := filters(r, "partner_id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	filter := store.APIKeyFilter{Kind: q.Get("kind"), PartnerID: f["partner_id"], Page: storePage(p)}
	if v := q.Get("revoked"); v != "" {
		if filter.Revoked, err = strconv.ParseBool(v); err != nil {
			s.writeError(w, r, store.Invalid("revoked", "must be true or false"))
			return
		}
	}
	keys, err := s.store.APIKeys(r.Context(), filter)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newList(keys, p, func(k store.APIKey) int64 { return k.ID }))
}

// createAdminKey creates an admin key with a name; its secret is shown once.
func (s *Server) createAdminKey(w http.ResponseWriter, r *http.Request) {
	var in apiKeyRequest
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	k, secret, err := s.store.CreateAPIKey(r.Context(), store.KeyAdmin, 0, in.Name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, apiKeyWithSecret{k, secret})
}

// revokeAPIKey revokes a key: its requests and console sessions stop at once.
func (s *Server) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	k, err := s.store.RevokeAPIKey(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, k)
}
