package console

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tierwise/tierwise/reports"
	"github.com/tierwise/tierwise/store"
)

// The partner's own view: a partner signs in with its partner API key to a
// small portal under PortalPath, a session kind of its own in a cookie of
// its own limited to the portal. A partner session never opens an admin
// page (requireSession takes admin sessions only) and an admin session
// never opens the portal. Every page reads the signed-in partner's data
// through reports' partner view: the offers it may run with its tracking
// links and payouts, its conversions and earnings, its commission cycles.
// Another partner's conversion is a 404, like a page that does not exist.

// PortalPath is where the partner portal is served, under the console.
const PortalPath = Path + "/partner"

// portalCookie holds a partner session's secret, limited to PortalPath.
const portalCookie = "tierwise_partner_session"

func (s *Server) portalRoutes(r chi.Router) {
	r.Get("/sign-in", s.portalSignInPage)
	r.Post("/sign-in", s.portalSignIn)
	r.Group(func(r chi.Router) {
		r.Use(s.requirePartnerSession, s.checkCSRF)
		r.Post("/sign-out", s.portalSignOut)
		r.Get("/", s.portalHome)
		r.Get("/offers", s.portalOffers)
		r.Post("/offers/{id}/approval-request", s.portalRequestApproval)
		r.Get("/conversions", s.portalConversions)
		r.Get("/conversions/{id}", s.portalConversion)
		r.Get("/cycles", s.portalCycles)
	})
	r.NotFound(s.notFound)
}

// partnerSession finds the request's valid partner session.
func (s *Server) partnerSession(r *http.Request) (store.Session, bool, error) {
	sess, ok, err := s.sessionIn(r, portalCookie)
	if !ok || sess.Kind != store.KeyPartner || sess.PartnerID == 0 {
		return store.Session{}, false, err
	}
	return sess, true, nil
}

// requirePartnerSession lets signed-in partners through and sends everyone
// else, admins included, to the portal's sign-in.
func (s *Server) requirePartnerSession(next http.Handler) http.Handler {
	return s.requireSessionOf(s.partnerSession, PortalPath, "You are signed out, so nothing was sent. Sign in with your partner key and try again.")(next)
}

func (s *Server) portalSignInPage(w http.ResponseWriter, r *http.Request) {
	if _, ok, _ := s.partnerSession(r); ok {
		http.Redirect(w, r, safeNext(PortalPath, r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.renderPortalSignIn(w, r, http.StatusOK, s.view(r, "Partner sign-in", ""))
}

func (s *Server) renderPortalSignIn(w http.ResponseWriter, r *http.Request, status int, v *view) {
	s.renderSignInForm(w, r, status, v, PortalPath, "portal-signin")
}

// portalSignIn checks a partner key and starts a partner session.
func (s *Server) portalSignIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	v := s.view(r, "Partner sign-in", "")
	c, err := r.Cookie(signInCookie)
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue(csrfField))) != 1 {
		v.Alerts = append(v.Alerts, "The sign-in form was out of date. Enter the key again.")
		s.renderPortalSignIn(w, r, http.StatusForbidden, v)
		return
	}
	secret := strings.TrimSpace(r.PostFormValue("key"))
	key, err := s.store.LookupAPIKey(r.Context(), secret)
	switch {
	case secret == "":
		v.Errors["key"] = []string{"Enter your partner API key."}
	case errors.Is(err, store.ErrNotFound):
		v.Errors["key"] = []string{"This is not a partner key of this network, or it was revoked."}
	case err != nil:
		s.errorPage(w, r, err)
		return
	case key.Kind != store.KeyPartner:
		v.Errors["key"] = []string{"This is an admin key: sign in to the console instead."}
	}
	if v.HasErrors() {
		s.logger.WarnContext(r.Context(), "partner portal sign-in refused", "reason", v.Errors["key"][0], "remote", r.RemoteAddr)
		s.renderPortalSignIn(w, r, http.StatusUnauthorized, v)
		return
	}
	s.startSession(w, r, key, secret, portalCookie, PortalPath, "partner portal sign-in", "partner_id", key.PartnerID)
}

func (s *Server) portalSignOut(w http.ResponseWriter, r *http.Request) {
	s.endSession(w, r, portalCookie, PortalPath)
}

// portalView starts a portal page's view with the partner's name.
func (s *Server) portalView(w http.ResponseWriter, r *http.Request, title, section string) (*view, store.Partner, bool) {
	v := s.view(r, title, section).withFlash(w, r)
	sess, _ := sessionOf(r)
	p, err := s.store.Partner(r.Context(), sess.PartnerID)
	if err != nil {
		s.errorPage(w, r, err)
		return nil, store.Partner{}, false
	}
	return v, p, true
}

type portalHomeData struct {
	Partner  store.Partner
	Earnings reports.Earnings
}

func (s *Server) portalHome(w http.ResponseWriter, r *http.Request) {
	v, p, ok := s.portalView(w, r, "Overview", "portal-home")
	if !ok {
		return
	}
	e, err := s.reports.PartnerEarnings(r.Context(), p.ID, time.Time{}, time.Time{})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	v.Data = portalHomeData{Partner: p, Earnings: e}
	s.render(w, r, http.StatusOK, "portal-home", v)
}

type portalOffersData struct {
	Partner store.Partner
	Offers  []store.PartnerOffer
}

func (s *Server) portalOffers(w http.ResponseWriter, r *http.Request) {
	v, p, ok := s.portalView(w, r, "Offers", "portal-offers")
	if !ok {
		return
	}
	s.portalOffersPage(w, r, http.StatusOK, v, p)
}

func (s *Server) portalOffersPage(w http.ResponseWriter, r *http.Request, status int, v *view, p store.Partner) {
	offers, err := s.store.PartnerOffers(r.Context(), p.ID, s.now(), store.Page{Limit: listLimit})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	base := s.public
	if base == "" {
		base = v.Base()
	}
	for i := range offers {
		if offers[i].TrackingURL != "" {
			offers[i].TrackingURL = base + offers[i].TrackingURL
		}
	}
	v.Data = portalOffersData{Partner: p, Offers: offers}
	s.render(w, r, status, "portal-offers", v)
}

// portalRequestApproval asks to run a require-approval offer; an offer the
// partner may not see is not found.
func (s *Server) portalRequestApproval(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	f := readForm(r)
	if err := f.err(); err != nil {
		s.errorPage(w, r, err)
		return
	}
	sess, _ := sessionOf(r)
	if _, err := s.store.RequestApproval(r.Context(), sess.PartnerID, id, f.str("note")); err != nil {
		if errors.Is(err, store.ErrConflict) {
			v, p, ok := s.portalView(w, r, "Offers", "portal-offers")
			if !ok {
				return
			}
			v.Alerts = append(v.Alerts, conflictMessage(err))
			s.portalOffersPage(w, r, http.StatusConflict, v, p)
			return
		}
		s.errorPage(w, r, err)
		return
	}
	s.redirectTo(w, r, PortalPath+"/offers", "Approval requested: the network's manager sees it and answers.")
}

type portalConversionsData struct {
	Partner store.Partner
	Page    reports.PartnerConversionPage
}

func (s *Server) portalConversions(w http.ResponseWriter, r *http.Request) {
	v, p, ok := s.portalView(w, r, "Conversions", "portal-conversions")
	if !ok {
		return
	}
	q := r.URL.Query()
	v.Form, v.Refused = q, "Check the filters"
	from, to, err := reports.ParseRange(q.Get("from"), q.Get("to"), v.Loc)
	var page reports.PartnerConversionPage
	if err == nil {
		page, err = s.reports.PartnerConversions(r.Context(), p.ID, reports.PartnerConversionFilter{From: from, To: to,
			Status: q.Get("status"), After: after(r), Limit: pageSize})
	}
	var invalid *store.InvalidError
	switch {
	case errors.As(err, &invalid):
		v.problems(invalid.Problems, []string{"from", "to", "status"})
		v.Data = portalConversionsData{Partner: p}
		s.render(w, r, http.StatusBadRequest, "portal-conversions", v)
		return
	case err != nil:
		s.errorPage(w, r, err)
		return
	}
	v.Data = portalConversionsData{Partner: p, Page: page}
	s.render(w, r, http.StatusOK, "portal-conversions", v)
}

type portalConversionData struct {
	Partner    store.Partner
	Conversion reports.PartnerConversion
}

func (s *Server) portalConversion(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	v, p, ok := s.portalView(w, r, fmt.Sprintf("Conversion %d", id), "portal-conversions")
	if !ok {
		return
	}
	c, err := s.reports.PartnerConversion(r.Context(), p.ID, id)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	v.Data = portalConversionData{Partner: p, Conversion: c}
	s.render(w, r, http.StatusOK, "portal-conversion", v)
}

type portalCyclesData struct {
	Partner store.Partner
	Page    reports.PartnerCyclePage
	Next    string
}

func (s *Server) portalCycles(w http.ResponseWriter, r *http.Request) {
	v, p, ok := s.portalView(w, r, "Commission cycles", "portal-cycles")
	if !ok {
		return
	}
	cursor := r.URL.Query().Get("after")
	if cursor != "" {
		if _, err := reports.ParseCycleCursor(cursor); err != nil {
			cursor = ""
		}
	}
	page, err := s.reports.PartnerCycles(r.Context(), p.ID, cursor, pageSize)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	v.Data = portalCyclesData{Partner: p, Page: page, Next: page.NextCursor}
	s.render(w, r, http.StatusOK, "portal-cycles", v)
}

// redirectTo is redirect to an absolute console path.
func (s *Server) redirectTo(w http.ResponseWriter, r *http.Request, path, flash string) {
	s.redirect(w, r, strings.TrimPrefix(path, Path), flash)
}
