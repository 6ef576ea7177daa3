// Package api is tierwise's HTTP interface: it maps requests to the domain and
// store packages and their errors back to HTTP. It holds no business rules.
package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"github.com/tierwise/tierwise/activities"
	"github.com/tierwise/tierwise/console"
	"github.com/tierwise/tierwise/ingest"
	"github.com/tierwise/tierwise/lifecycle"
	"github.com/tierwise/tierwise/limits"
	"github.com/tierwise/tierwise/metrics"
	"github.com/tierwise/tierwise/preview"
	"github.com/tierwise/tierwise/reports"
	"github.com/tierwise/tierwise/store"
)

//go:embed openapi.yaml
var openAPI []byte

// Config holds what the API needs.
type Config struct {
	Pool     *pgxpool.Pool
	Temporal client.Client
	// AdminKeys are bearer keys with full access besides those created
	// through the API (TIERWISE_ADMIN_KEY).
	AdminKeys []string
	// PostbackMaxAge is how old a postback's timestamp may be (default 400
	// days; POSTBACK_MAX_AGE_DAYS).
	PostbackMaxAge time.Duration
	// PublicURL is the address partners' tracking links point at
	// (PUBLIC_URL, such as https://track.example.com); empty: the address
	// each request came to.
	PublicURL string
	Logger    *slog.Logger
	// Metrics is what GET /metrics serves besides the process-wide metrics
	// (the Temporal client's, the pool's, the backlog); nil serves those
	// alone.
	Metrics *metrics.Registry
	// Console serves the affiliate manager's console under /console/.
	Console bool
	// TemporalUIURL and Namespace let the console link a customer to its
	// workflow in the Temporal Web UI; without a URL it shows no links.
	TemporalUIURL string
	Namespace     string
}

// Server serves the HTTP API.
type Server struct {
	pool       *pgxpool.Pool
	store      *store.Store
	ingester   *ingest.Ingester
	lifecycle  *lifecycle.Service
	reports    *reports.Service
	previews   *preview.Service
	console    *console.Server
	temporal   client.Client
	adminKeys  []string
	publicBase string
	logger     *slog.Logger
	metrics    http.Handler
}

// NewServer returns a server for cfg.
func NewServer(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewRegistry(cfg.Logger)
	}
	st := store.New(cfg.Pool)
	s := &Server{
		pool:  cfg.Pool,
		store: st,
		ingester: ingest.New(st, cfg.Temporal, cfg.Logger, ingest.Options{MaxAge: cfg.PostbackMaxAge,
			PriceAnonymous: activities.New(st, cfg.Temporal, cfg.Logger).PriceAnonymous}),
		reports:    reports.New(st, cfg.Temporal),
		previews:   preview.New(st),
		temporal:   cfg.Temporal,
		adminKeys:  cfg.AdminKeys,
		publicBase: strings.TrimSuffix(cfg.PublicURL, "/"),
		logger:     cfg.Logger,
		metrics:    cfg.Metrics.Handler(),
	}
	s.lifecycle = lifecycle.New(st, s.ingester)
	if cfg.Console {
		s.console = console.New(console.Config{
			Store: st, Reports: s.reports, Lifecycle: s.lifecycle, Previews: s.previews, AdminKeys: cfg.AdminKeys, Logger: cfg.Logger,
			TemporalUIURL: cfg.TemporalUIURL, Namespace: cfg.Namespace, PublicURL: cfg.PublicURL,
		})
	}
	return s
}

// signalWorkers and signalQueue size the background signalling of accepted
// postbacks (see ingest.Ingester.Start): 16 concurrent signal-with-starts
// keep a two-core Temporal busy without queueing in it, and 16 × 1,024
// queued conversions are a minute of a heavy burst; beyond, the sweeper.
const (
	signalWorkers = 16
	signalQueue   = 1024
)

// Start starts the server's background work, the signallers that tell
// customers' workflows about accepted postbacks, and returns the function
// that stops it; call that after the HTTP server has shut down. Call Start
// before serving; without it each postback signals before it is answered.
func (s *Server) Start() (stop func()) {
	return s.ingester.Start(signalWorkers, signalQueue)
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.RequestID, middleware.Recoverer, s.logRequests, s.checkQuery)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, store.NotFound("route", r.Method+" "+limits.Clip(r.URL.Path)))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, fmt.Errorf("%s %s: %w", r.Method, limits.Clip(r.URL.Path), errMethodNotAllowed))
	})
	s.routes(r)
	return r
}

// checkQuery refuses a query string that no route can use: a parameter
// whose name or value is not text (a NUL, a control character, invalid
// UTF-8) or is longer than any parameter tierwise reads. Each route checks
// its own parameters' types and bounds; this is the floor under all of
// them, so no such value reaches PostgreSQL (which cannot store a NUL).
func (s *Server) checkQuery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			s.writeError(w, r, store.Invalid("query", "is not a valid query string"))
			return
		}
		var p store.Problems
		for k, vs := range q {
			if err := limits.Text(k, 64, false); err != nil {
				p.Add("query", "a parameter name %v", err)
				continue
			}
			for _, v := range vs {
				if err := limits.Text(v, limits.MaxTextValueLength, false); err != nil {
					p.Add(k, "%v", err)
				}
			}
		}
		if err := p.Err(); err != nil {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) routes(r chi.Router) {
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Get("/openapi.yaml", s.openapi)
	r.Method(http.MethodGet, "/metrics", s.metrics)
	if s.console != nil {
		r.Get("/", s.console.Redirect)
		r.Mount(console.Path, s.console.Handler())
	}
	s.ingestRoutes(r)
	s.clickRoutes(r)
	r.Group(func(r chi.Router) {
		r.Use(s.requireAdmin)
		s.adminRoutes(r)
		s.conversionRoutes(r)
		s.dataPointRoutes(r)
		s.tieredRoutes(r)
		s.customerRoutes(r)
		s.customerValueRoutes(r)
		s.apiKeyRoutes(r)
		s.reportRoutes(r)
	})
	r.Group(func(r chi.Router) {
		r.Use(s.requirePartner)
		s.partnerRoutes(r)
	})
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz reports whether PostgreSQL and Temporal answer, naming the one that
// does not; the error itself (addresses, dial errors) goes to the log, not
// to an anonymous caller. The API is ready without Temporal: postbacks are
// then stored and signalled later by the sweeper, so readyz answers 200
// with "temporal": "unreachable" and only PostgreSQL makes it 503.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	status := http.StatusOK
	body := map[string]string{"postgres": "ok", "temporal": "ok"}
	if err := s.pool.Ping(ctx); err != nil {
		status = http.StatusServiceUnavailable
		body["postgres"] = "unreachable"
		s.logger.WarnContext(ctx, "readyz: PostgreSQL unreachable", "error", err)
	}
	if _, err := s.temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		body["temporal"] = "unreachable"
		body["postbacks"] = "accepted; signalled once Temporal answers"
		s.logger.WarnContext(ctx, "readyz: Temporal unreachable", "error", err)
	}
	writeJSON(w, status, body)
}

func (s *Server) openapi(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openAPI)
}

// logRequests writes one structured line per request.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		level := slog.LevelInfo
		if ww.Status() >= 500 {
			level = slog.LevelError
		}
		s.logger.LogAttrs(r.Context(), level, "http request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", ww.Status()),
			slog.Int("bytes", ww.BytesWritten()),
			slog.Duration("duration", time.Since(start)),
			slog.String("request_id", middleware.GetReqID(r.Context())),
		)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
