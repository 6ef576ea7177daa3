package console

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/tierwise/tierwise/store"
)

// Cookies of the console, all limited to Path, HttpOnly and SameSite=Strict,
// and Secure when the console is served over TLS.
const (
	sessionCookie = "tierwise_session" // the session's secret
	signInCookie  = "tierwise_sign_in" // the sign-in form's CSRF token, before there is a session
	flashCookie   = "tierwise_flash"   // a message for the next page
)

// csrfField is the form field (and X-CSRF-Token the header, for htmx) that
// carries the session's CSRF token.
const csrfField = "csrf_token"

type ctxKey int

const sessionKey ctxKey = iota

// sessionOf returns the session requireSession found.
func sessionOf(r *http.Request) (store.Session, bool) {
	s, ok := r.Context().Value(sessionKey).(store.Session)
	return s, ok
}

// secure reports whether the browser reached the console over TLS, directly
// or through a proxy that says so; the cookies are then Secure. A forged
// header on plain HTTP only makes the browser keep the cookie from that
// request.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// session finds the request's valid session: its cookie names an unexpired
// session of a key that still works (a stored key not revoked, a configured
// key still configured).
func (s *Server) session(r *http.Request) (store.Session, bool, error) {
	sess, ok, err := s.sessionIn(r, sessionCookie)
	if !ok || sess.Kind != store.KeyAdmin || (sess.APIKeyID == 0 && !s.keyHashes[sess.KeyHash]) {
		return store.Session{}, false, err
	}
	return sess, true, nil
}

// sessionIn is the unexpired session the named cookie holds, of any kind.
func (s *Server) sessionIn(r *http.Request, cookie string) (store.Session, bool, error) {
	c, err := r.Cookie(cookie)
	if err != nil || c.Value == "" {
		return store.Session{}, false, nil
	}
	sess, err := s.store.SessionBySecret(r.Context(), c.Value)
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, false, nil
	}
	if err != nil {
		return store.Session{}, false, err
	}
	return sess, true, nil
}

// requireSession lets signed-in admins through and sends everyone else to
// the sign-in page (an htmx request is told to go there; a form post is
// refused).
func (s *Server) requireSession(next http.Handler) http.Handler {
	return s.requireSessionOf(s.session, Path, "You are signed out, so nothing was saved. Sign in and send the form again.")(next)
}

// requireSessionOf lets the requests that find says are signed in through,
// with their session in the context, and sends the others to base's
// sign-in page: an htmx request is told to go there, a GET is redirected
// there, and any other request is refused with signedOut.
func (s *Server) requireSessionOf(find func(*http.Request) (store.Session, bool, error), base, signedOut string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sess, ok, err := find(r)
			if err != nil {
				s.errorPage(w, r, err)
				return
			}
			if ok {
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey, sess)))
				return
			}
			signIn := base + "/sign-in?next=" + url.QueryEscape(r.URL.RequestURI())
			switch {
			case r.Header.Get("HX-Request") != "":
				w.Header().Set("HX-Redirect", signIn)
				w.WriteHeader(http.StatusUnauthorized)
			case r.Method == http.MethodGet || r.Method == http.MethodHead:
				http.Redirect(w, r, signIn, http.StatusSeeOther)
			default:
				v := s.view(r, "Signed out", "")
				v.Data = struct {
					Status  int
					Message string
				}{http.StatusUnauthorized, signedOut}
				s.render(w, r, http.StatusUnauthorized, "error", v)
			}
		})
	}
}

// checkCSRF refuses a state-changing request that does not carry the
// session's CSRF token, or that a browser says came from another site.
func (s *Server) checkCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		sess, _ := sessionOf(r)
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		token := r.Header.Get("X-CSRF-Token")
		if token == "" {
			token = r.PostFormValue(csrfField)
		}
		crossSite := r.Header.Get("Sec-Fetch-Site") == "cross-site"
		if crossSite || token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(sess.CSRFToken)) != 1 {
			s.csrfRefused(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) csrfRefused(w http.ResponseWriter, r *http.Request) {
	v := s.view(r, "Form refused", "")
	v.Data = struct {
		Status  int
		Message string
	}{http.StatusForbidden, "This form was not sent from this console (its security token is missing or out of date), so nothing was saved. Go back, reload the page and send it again."}
	s.render(w, r, http.StatusForbidden, "error", v)
}

// maxFormBytes bounds a form: the largest, an offer with its events, is a
// few kilobytes.
const maxFormBytes = 256 << 10

// signInPage shows the sign-in form, with a token of its own in a cookie
// and in the form (a sign-in posted from another site has neither).
func (s *Server) signInPage(w http.ResponseWriter, r *http.Request) {
	if _, ok, _ := s.session(r); ok {
		http.Redirect(w, r, safeNext(Path, r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.renderSignIn(w, r, http.StatusOK, s.view(r, "Sign in", ""))
}

func (s *Server) renderSignIn(w http.ResponseWriter, r *http.Request, status int, v *view) {
	s.renderSignInForm(w, r, status, v, Path, "signin")
}

// renderSignInForm renders a sign-in page whose form goes on to a page
// under base, with a token of its own in a cookie and in the form.
func (s *Server) renderSignInForm(w http.ResponseWriter, r *http.Request, status int, v *view, base, page string) {
	token := store.NewSecret("")
	setCookie(w, r, http.Cookie{Name: signInCookie, Value: token, Path: Path, MaxAge: 3600})
	v.CSRF = token
	v.Data = struct{ Next string }{safeNext(base, r.FormValue("next"))}
	s.render(w, r, status, page, v)
}

// signIn checks an admin key and starts a session.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	v := s.view(r, "Sign in", "")
	c, err := r.Cookie(signInCookie)
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue(csrfField))) != 1 {
		v.Alerts = append(v.Alerts, "The sign-in form was out of date. Enter the key again.")
		s.renderSignIn(w, r, http.StatusForbidden, v)
		return
	}
	secret := strings.TrimSpace(r.PostFormValue("key"))
	key, err := s.store.AdminKey(r.Context(), secret, s.adminKeys)
	switch {
	case secret == "":
		v.Errors["key"] = []string{"Enter an admin API key."}
	case errors.Is(err, store.ErrNotFound):
		v.Errors["key"] = []string{"This is not an admin key of this network, or it was revoked."}
	case errors.Is(err, store.ErrNotAllowed):
		v.Errors["key"] = []string{"This is a partner's key; the console signs in admins."}
	case err != nil:
		s.errorPage(w, r, err)
		return
	}
	if v.HasErrors() {
		s.logger.WarnContext(r.Context(), "console sign-in refused", "reason", v.Errors["key"][0], "remote", r.RemoteAddr)
		s.renderSignIn(w, r, http.StatusUnauthorized, v)
		return
	}
	s.startSession(w, r, key, secret, sessionCookie, Path, "console sign-in", "key", key.Name)
}

// startSession signs key in: a new session in cookie, limited to base, the
// sign-in form's token cleared, and on to the form's next page under base.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, key store.APIKey, secret, cookie, base, msg string, attrs ...any) {
	sess, token, err := s.store.CreateSession(r.Context(), store.NewSession{Key: key, KeyHash: store.HashSecret(secret), TTL: s.ttl})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	s.logger.InfoContext(r.Context(), msg, append(attrs, "api_key_id", key.ID, "session_id", sess.ID)...)
	setCookie(w, r, http.Cookie{Name: cookie, Value: token, Path: base, Expires: sess.ExpiresAt})
	setCookie(w, r, http.Cookie{Name: signInCookie, Value: "", Path: Path, MaxAge: -1})
	http.Redirect(w, r, safeNext(base, r.PostFormValue("next")), http.StatusSeeOther)
}

// signOut ends the session.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	s.endSession(w, r, sessionCookie, Path)
}

// endSession ends the session the cookie holds, deletes the cookie and
// goes to base's sign-in page.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request, cookie, base string) {
	if c, err := r.Cookie(cookie); err == nil {
		if err := s.store.DeleteSession(r.Context(), c.Value); err != nil {
			s.errorPage(w, r, err)
			return
		}
	}
	setCookie(w, r, http.Cookie{Name: cookie, Value: "", Path: base, MaxAge: -1})
	http.Redirect(w, r, base+"/sign-in", http.StatusSeeOther)
}

// safeNext is where to go after signing in: next when it is a page under
// base (the console, or the partner portal) other than a sign-in page,
// never another site; else base's home.
func safeNext(base, next string) string {
	if strings.HasPrefix(next, base+"/") && !strings.HasPrefix(next, "//") && !strings.Contains(next, "\\") && !strings.HasPrefix(next, base+"/sign-") {
		return next
	}
	return base + "/"
}

// setCookie sets one of the console's cookies: HttpOnly, SameSite=Strict,
// and Secure when the request came over TLS. MaxAge -1 deletes it.
func setCookie(w http.ResponseWriter, r *http.Request, c http.Cookie) {
	c.HttpOnly, c.Secure, c.SameSite = true, secure(r), http.SameSiteStrictMode
	http.SetCookie(w, &c)
}
