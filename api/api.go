// Package api is tierwise's HTTP interface: it maps requests to the domain and
// store packages and their errors back to HTTP. It holds no business rules.
package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"github.com/tierwise/tierwise/console"
	"github.com/tierwise/tierwise/ingest"
	"github.com/tierwise/tierwise/lifecycle"
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
	Logger    *slog.Logger
	// Console serves the affiliate manager's console under /console/.
	Console bool
	// TemporalUIURL and Namespace let the console link a customer to its
	// workflow in the Temporal Web UI; without a URL it shows no links.
	TemporalUIURL string
	Namespace     string
}

// Server serves the HTTP API.
type Server struct {
	pool      *pgxpool.Pool
	store     *store.Store
	ingester  *ingest.Ingester
	lifecycle *lifecycle.Service
	reports   *reports.Service
	console   *console.Server
	temporal  client.Client
	adminKeys []string
	logger    *slog.Logger
}

// NewServer returns a server for cfg.
func NewServer(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	st := store.New(cfg.Pool)
	s := &Server{
		pool:      cfg.Pool,
		store:     st,
		ingester:  ingest.New(st, cfg.Temporal, cfg.Logger),
		reports:   reports.New(st, cfg.Temporal),
		temporal:  cfg.Temporal,
		adminKeys: cfg.AdminKeys,
		logger:    cfg.Logger,
	}
	s.lifecycle = lifecycle.New(st, s.ingester, reprice)
	if cfg.Console {
		s.console = console.New(console.Config{
			Store: st, Reports: s.reports, Lifecycle: s.lifecycle, AdminKeys: cfg.AdminKeys, Logger: cfg.Logger,
			TemporalUIURL: cfg.TemporalUIURL, Namespace: cfg.Namespace,
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
	r.Use(middleware.RequestID, middleware.Recoverer, s.logRequests)
	s.routes(r)
	return r
}

func (s *Server) routes(r chi.Router) {
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Get("/openapi.yaml", s.openapi)
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
// does not.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	status := http.StatusOK
	body := map[string]string{"postgres": "ok", "temporal": "ok"}
	if err := s.pool.Ping(ctx); err != nil {
		status = http.StatusServiceUnavailable
		body["postgres"] = "unreachable: " + err.Error()
	}
	if _, err := s.temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		status = http.StatusServiceUnavailable
		body["temporal"] = "unreachable: " + err.Error()
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
