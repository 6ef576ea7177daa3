package console

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/tierwise/tierwise/store"
)

func (s *Server) keyRoutes(r chi.Router) {
	r.Get("/api-keys", s.apiKeys)
	r.Post("/api-keys", s.createAPIKey)
	r.Post("/api-keys/{id}/revoke", s.revokeAPIKey)
}

type apiKeysData struct {
	Keys []store.APIKey
	// Configured counts the admin keys of the configuration
	// (TIERWISE_ADMIN_KEY), which are changed there, not here.
	Configured int
	Next       int64
}

func (s *Server) apiKeys(w http.ResponseWriter, r *http.Request) {
	s.apiKeysPage(w, r, http.StatusOK, s.view(r, "API keys", "apikeys").withFlash(w, r))
}

func (s *Server) apiKeysPage(w http.ResponseWriter, r *http.Request, status int, v *view) {
	keys, err := s.store.APIKeys(r.Context(), store.APIKeyFilter{Kind: store.KeyAdmin, Revoked: true, Page: store.Page{After: after(r), Limit: pageSize + 1}})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	d := apiKeysData{Configured: len(s.adminKeys)}
	d.Keys, d.Next = cut(keys, func(k store.APIKey) int64 { return k.ID })
	v.Data = d
	s.render(w, r, status, "apikeys", v)
}

// createAPIKey makes an admin key with a name and shows its secret once.
func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) {
	f := readForm(r)
	v := s.view(r, "API keys", "apikeys")
	err := f.err()
	var k store.APIKey
	var secret string
	if err == nil {
		k, secret, err = s.store.CreateAPIKey(r.Context(), store.KeyAdmin, 0, f.str("name"))
	}
	var invalid *store.InvalidError
	switch {
	case errors.As(err, &invalid):
		v.Form = f.values
		v.problems(invalid.Problems, []string{"name"})
		s.apiKeysPage(w, r, http.StatusBadRequest, v)
		return
	case err != nil:
		s.errorPage(w, r, err)
		return
	}
	v.Flash = "Admin key " + strconv.Quote(k.Name) + " created."
	v.Secret, v.SecretLabel = secret, "The new admin key "+strconv.Quote(k.Name)+"."
	s.apiKeysPage(w, r, http.StatusCreated, v)
}

// revokeAPIKey revokes an admin key: its API requests and console sessions
// stop at once, the current one's too when it is the key signed in with.
func (s *Server) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	k, err := s.store.RevokeAPIKey(r.Context(), id)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if sess, ok := sessionOf(r); ok && sess.APIKeyID == id {
		http.Redirect(w, r, Path+"/sign-in", http.StatusSeeOther)
		return
	}
	s.redirect(w, r, "/api-keys", "Key "+strconv.Quote(k.Name)+" revoked: it stopped working at once.")
}
