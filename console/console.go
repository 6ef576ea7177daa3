package console

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tierwise/tierwise/lifecycle"
	"github.com/tierwise/tierwise/preview"
	"github.com/tierwise/tierwise/reports"
	"github.com/tierwise/tierwise/store"
)

// Path is where the console is served.
const Path = "/console"

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed assets
var assetFiles embed.FS

// DefaultSessionTTL is how long a sign-in lasts: a working day.
const DefaultSessionTTL = 12 * time.Hour

// Config holds what the console needs: the same domain services the JSON
// API calls.
type Config struct {
	Store     *store.Store
	Reports   *reports.Service
	Lifecycle *lifecycle.Service
	// Previews runs the builders' what-if previews.
	Previews *preview.Service
	// PublicURL is the address partners' tracking links point at
	// (PUBLIC_URL); empty: the address each request came to.
	PublicURL string
	// AdminKeys are the admin keys from the configuration, besides those
	// stored.
	AdminKeys []string
	Logger    *slog.Logger
	// TemporalUIURL is the Temporal Web UI's base URL and Namespace the
	// customers' namespace, for links to a customer's workflow; without a
	// URL the console shows the workflow id only.
	TemporalUIURL string
	Namespace     string
	// SessionTTL is how long a sign-in lasts; default DefaultSessionTTL.
	SessionTTL time.Duration
	// Now is the clock of the reports (today, this month); default
	// time.Now.
	Now func() time.Time
}

// Server serves the console.
type Server struct {
	store     *store.Store
	reports   *reports.Service
	lifecycle *lifecycle.Service
	previews  *preview.Service
	jobs      *preview.Jobs
	public    string
	logger    *slog.Logger
	adminKeys []string
	keyHashes map[string]bool // HashSecret of each configured admin key
	uiURL     string
	namespace string
	ttl       time.Duration
	now       func() time.Time
	pages     map[string]*template.Template
}

// New returns a console for cfg. It panics if its embedded templates do not
// parse, which a test catches.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Previews == nil {
		cfg.Previews = preview.New(cfg.Store)
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "default"
	}
	s := &Server{
		store: cfg.Store, reports: cfg.Reports, lifecycle: cfg.Lifecycle, logger: cfg.Logger,
		previews: cfg.Previews, jobs: preview.NewJobs(), public: strings.TrimSuffix(cfg.PublicURL, "/"),
		adminKeys: cfg.AdminKeys, keyHashes: map[string]bool{}, uiURL: strings.TrimSuffix(cfg.TemporalUIURL, "/"),
		namespace: cfg.Namespace, ttl: cfg.SessionTTL, now: cfg.Now,
	}
	for _, k := range cfg.AdminKeys {
		s.keyHashes[store.HashSecret(k)] = true
	}
	s.pages = parsePages()
	return s
}

// Handler returns the console's routes, to be mounted at Path.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(securityHeaders)
	assets, _ := fs.Sub(assetFiles, "assets")
	r.Handle("/assets/*", http.StripPrefix(Path+"/assets/", cacheAssets(http.FileServerFS(assets))))
	r.Route("/partner", s.portalRoutes)
	r.Get("/sign-in", s.signInPage)
	r.Post("/sign-in", s.signIn)
	r.Group(func(r chi.Router) {
		r.Use(s.requireSession, s.checkCSRF)
		r.Post("/sign-out", s.signOut)
		r.Get("/", s.home)
		s.networkRoutes(r)
		s.tierRoutes(r)
		s.conversionRoutes(r)
		s.reportRoutes(r)
		s.keyRoutes(r)
		s.valueRuleRoutes(r)
		s.tieredRuleRoutes(r)
		s.previewRoutes(r)
	})
	r.NotFound(s.notFound)
	return r
}

// Redirect sends a visitor of the bare host to the console.
func (s *Server) Redirect(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, Path+"/", http.StatusFound)
}

// securityHeaders keeps the console's pages out of frames, caches and
// other sites' scripts: every script and style comes from the console's
// own assets.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// cacheAssets lets browsers keep the embedded assets for a day: they change
// only with the binary.
func cacheAssets(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		next.ServeHTTP(w, r)
	})
}

// pageNames are the templates under templates/, one per page, each
// defining "content" (and fragments htmx swaps in).
var pageNames = []string{
	"signin", "home", "advertisers", "advertiser", "offers", "offer", "partners", "partner", "tiers", "tier",
	"custompayouts", "conversions", "conversion", "customers", "cycles", "payoutruns", "payoutrun", "apikeys", "error",
	"valuerules", "valuerule", "tieredrules", "tieredrule", "preview",
	"portal-signin", "portal-home", "portal-offers", "portal-conversions", "portal-conversion", "portal-cycles",
}

func parsePages() map[string]*template.Template {
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/parts.html"))
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		pages[name] = template.Must(template.Must(base.Clone()).ParseFS(templateFiles, "templates/"+name+".html"))
	}
	return pages
}

// render writes a page with status in the layout, which shows the
// navigation to a signed-in admin only.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	s.renderTemplate(w, r, status, page, "layout", v)
}

// renderFragment writes one named template of a page, for htmx to swap in.
func (s *Server) renderFragment(w http.ResponseWriter, r *http.Request, page, name string, v *view) {
	s.renderTemplate(w, r, http.StatusOK, page, name, v)
}

func (s *Server) renderTemplate(w http.ResponseWriter, r *http.Request, status int, page, name string, v *view) {
	t, ok := s.pages[page]
	if !ok {
		s.logger.ErrorContext(r.Context(), "console: no such page", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, v); err != nil {
		s.logger.ErrorContext(r.Context(), "console: render", "page", page, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// errorPage shows an error with the status its kind maps to.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, err error) {
	status, message := http.StatusInternalServerError, "Something went wrong on our side. It is logged; try again in a moment."
	var invalid *store.InvalidError
	switch {
	case errors.As(err, &invalid):
		status, message = http.StatusBadRequest, invalid.Error()
	case errors.Is(err, store.ErrNotFound):
		status, message = http.StatusNotFound, "Not found: "+strings.TrimSuffix(err.Error(), ": not found")+"."
	case errors.Is(err, store.ErrConflict):
		status, message = http.StatusConflict, conflictMessage(err)
	case errors.Is(err, store.ErrNotAllowed):
		status, message = http.StatusForbidden, err.Error()
	default:
		s.logger.ErrorContext(r.Context(), "console request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	v := s.view(r, http.StatusText(status), "")
	v.Data = struct {
		Status  int
		Message string
	}{status, message}
	s.render(w, r, status, "error", v)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.errorPage(w, r, store.NotFound("page", r.URL.Path))
}

// wrapped matches the context the store wraps around an error message
// ("set status of conversion 5: ", "refund conversion 5: ").
var wrapped = regexp.MustCompile(`^[a-z ]+ conversion \d+: |^create payout run: `)

// conflictMessage is a conflict error as a sentence, without the context
// the store wraps it in.
func conflictMessage(err error) string {
	m := strings.TrimSuffix(err.Error(), ": conflict")
	m = wrapped.ReplaceAllString(m, "")
	if m == "" {
		return "Conflict."
	}
	return strings.ToUpper(m[:1]) + m[1:] + "."
}

// redirect answers a successful form with a redirect to path (under the
// console) and a message for the next page.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, path, flash string) {
	if flash != "" {
		setCookie(w, r, http.Cookie{Name: flashCookie, Value: url.QueryEscape(flash), Path: Path, MaxAge: 60})
	}
	http.Redirect(w, r, Path+path, http.StatusSeeOther)
}
