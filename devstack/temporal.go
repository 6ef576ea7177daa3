package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/metrics"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

const clusterName = "active"

// TemporalConfig configures an embedded Temporal server.
type TemporalConfig struct {
	// Persistence is where the server keeps its state: PersistenceSQLite
	// (when empty) or PersistencePostgres.
	Persistence Persistence
	// DatabaseFile is the SQLite file the server persists to (SQLite). It
	// is created, with its schema, when it does not exist; otherwise the
	// server resumes from it.
	DatabaseFile string
	// PostgresURL is the PostgreSQL database the server persists to
	// (PostgreSQL), and PostgresVisibilityURL its visibility database
	// (default: PostgresURL's database name + "_visibility", on the same
	// server). Each is created when missing (the URL's user must be allowed
	// to create databases), its schema is applied by the server's own
	// schema tool from the schema files the server module ships, and
	// brought up to the server's version at every start.
	PostgresURL           string
	PostgresVisibilityURL string
	// Port is the frontend gRPC port on 127.0.0.1; 0 picks a free one.
	Port int
	// Namespace is registered at start when missing.
	Namespace string
	// LogFile receives the server's own log (warnings and errors); empty
	// discards it.
	LogFile string
	Logger  *slog.Logger
	// ContinueAsNewAfter, when set, is the history length (in events) at
	// which the server suggests continue-as-new, instead of its 4,096: for
	// tests that go through several runs of a workflow.
	ContinueAsNewAfter int
	// MetricsAddr, when set, is the host:port where the server serves its
	// own metrics at /metrics (port 0 picks a free one); empty: no metrics,
	// which the tests and the bench run without.
	MetricsAddr string
}

// Temporal is a running embedded Temporal server.
type Temporal struct {
	server      temporal.Server
	address     string
	metricsAddr string
	persistence Persistence
}

// StartTemporal starts a Temporal server on SQLite or PostgreSQL in this
// process and waits until its frontend answers.
func StartTemporal(ctx context.Context, cfg TemporalConfig) (*Temporal, error) {
	if cfg.Persistence == "" {
		cfg.Persistence = PersistenceSQLite
	}
	if err := cfg.Persistence.Validate(); err != nil {
		return nil, fmt.Errorf("temporal: %w", err)
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "default"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}

	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	if cfg.Port != 0 {
		// The server exits the process when it cannot listen, without a
		// word, so the port is checked first.
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Port)))
		if err != nil {
			return nil, fmt.Errorf("temporal: port %d is taken (another tierwise dev or Temporal server?); choose another with --temporal-port: %w", cfg.Port, err)
		}
		_ = l.Close()
		ports[0] = cfg.Port
	}
	address := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))

	stores, err := prepareStores(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// Search attributes are added later through the operator API, where the
	// server validates them, so the namespace is created without them. The
	// schema package's namespace helper is SQLite's by name, but it writes
	// through the server's generic SQL persistence, so it serves PostgreSQL
	// too.
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, cfg.Namespace, false, nil)
	if err != nil {
		return nil, fmt.Errorf("temporal: namespace config: %w", err)
	}
	if err := sqliteschema.CreateNamespaces(stores.history, ns); err != nil {
		return nil, fmt.Errorf("temporal: create namespace %q: %w", cfg.Namespace, err)
	}
	dataStores := map[string]config.DataStore{historyStore: {SQL: stores.history}}
	visibilityStore := historyStore
	if stores.visibility != nil {
		visibilityStore = "visibility"
		dataStores[visibilityStore] = config.DataStore{SQL: stores.visibility}
	}

	t := &Temporal{address: address, persistence: cfg.Persistence}
	var logger log.Logger = log.NewNoopLogger()
	if cfg.LogFile != "" {
		logger = log.NewZapLogger(log.BuildZapLogger(log.Config{Level: "warn", OutputFile: cfg.LogFile}))
	}

	serverConfig := &config.Config{
		Global: config.Global{
			Membership: config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: "127.0.0.1"},
		},
		Persistence: config.Persistence{
			DefaultStore:     historyStore,
			VisibilityStore:  visibilityStore,
			NumHistoryShards: 1,
			DataStores:       dataStores,
		},
		ClusterMetadata: &cluster.Config{
			EnableGlobalNamespace:    false,
			FailoverVersionIncrement: 10,
			MasterClusterName:        clusterName,
			CurrentClusterName:       clusterName,
			ClusterInformation: map[string]cluster.ClusterInformation{
				clusterName: {Enabled: true, InitialFailoverVersion: 1, RPCAddress: address},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services: map[string]config.Service{
			"frontend": service(ports[0], ports[1]),
			"history":  service(0, ports[2]),
			"matching": service(0, ports[3]),
			"worker":   service(0, ports[4]),
		},
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		PublicClient: config.PublicClient{HostPort: address},
		NamespaceDefaults: config.NamespaceDefaults{
			Archival: config.ArchivalNamespaceDefaults{
				History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
				Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
			},
		},
	}
	// Internal services get free ports of their own.
	for name, svc := range serverConfig.Services {
		if svc.RPC.GRPCPort == 0 {
			p, err := freePorts(1)
			if err != nil {
				return nil, err
			}
			svc.RPC.GRPCPort = p[0]
			serverConfig.Services[name] = svc
		}
	}

	authorizer, err := authorization.GetAuthorizerFromConfig(&serverConfig.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("temporal: authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&serverConfig.Global.Authorization, logger)
	if err != nil {
		return nil, fmt.Errorf("temporal: claim mapper: %w", err)
	}

	dynamic := dynamicconfig.StaticClient{
		// A search attribute added at start is usable at once.
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
		// Entity workflows of busy customers take many signals.
		dynamicconfig.FrontendMaxNamespaceRPSPerInstance.Key(): 10000,
		// One server with a few pollers per queue: one partition per task
		// queue, so a new workflow's first task never waits in a partition
		// no poller is reading (4–5 s with the default of four).
		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  1,
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): 1,
	}
	if cfg.ContinueAsNewAfter > 0 {
		dynamic[dynamicconfig.HistoryCountSuggestContinueAsNew.Key()] = cfg.ContinueAsNewAfter
	}

	if cfg.MetricsAddr != "" {
		if t.metricsAddr, err = metricsAddress(cfg.MetricsAddr); err != nil {
			return nil, err
		}
		// The server's own Prometheus exporter, on a listener of its own
		// that it stops with the server.
		serverConfig.Global.Metrics = &metrics.Config{Prometheus: &metrics.PrometheusConfig{
			Framework:     metrics.FrameworkOpentelemetry,
			ListenAddress: t.metricsAddr,
		}}
	}
	options := []temporal.ServerOption{
		temporal.WithConfig(serverConfig),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dynamic),
	}
	if serverConfig.Global.Metrics == nil {
		options = append(options, temporal.WithCustomMetricsHandler(metrics.NoopMetricsHandler))
	}
	server, err := temporal.NewServer(options...)
	if err != nil {
		return nil, fmt.Errorf("temporal: new server: %w", err)
	}
	if err := server.Start(); err != nil {
		return nil, fmt.Errorf("temporal: start server: %w", err)
	}
	t.server = server

	if err := t.ready(ctx); err != nil {
		t.Stop()
		return nil, err
	}
	return t, nil
}

// Address is the frontend's host:port.
func (t *Temporal) Address() string { return t.address }

// Persistence is where the server keeps its state.
func (t *Temporal) Persistence() Persistence { return t.persistence }

// MetricsURL is the URL of the server's own metrics, empty when it has
// none.
func (t *Temporal) MetricsURL() string {
	if t.metricsAddr == "" {
		return ""
	}
	return "http://" + t.metricsAddr + "/metrics"
}

// metricsAddress resolves the server's metrics address: a free port for
// port 0, and an error now for a port in use, which the server's exporter
// would otherwise only log (and exit on) once started.
func metricsAddress(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("temporal: metrics address %q: %w", addr, err)
	}
	if port == "0" {
		ports, err := freePorts(1)
		if err != nil {
			return "", err
		}
		port = strconv.Itoa(ports[0])
	}
	addr = net.JoinHostPort(host, port)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("temporal: metrics address: %w", err)
	}
	_ = l.Close()
	return addr, nil
}

// Port is the frontend's port.
func (t *Temporal) Port() int {
	_, p, _ := net.SplitHostPort(t.address)
	n, _ := strconv.Atoi(p)
	return n
}

// Stop stops the server. It is safe to call more than once.
func (t *Temporal) Stop() {
	if t.server != nil {
		_ = t.server.Stop()
		t.server = nil
	}
}

// ready waits until the frontend answers.
func (t *Temporal) ready(ctx context.Context) error {
	c, err := client.DialContext(ctx, client.Options{HostPort: t.address, Logger: quietSDKLogger()})
	if err != nil {
		return fmt.Errorf("temporal: dial frontend: %w", err)
	}
	c.Close()
	return nil
}

func service(grpcPort, membershipPort int) config.Service {
	return config.Service{RPC: config.RPC{
		GRPCPort:        grpcPort,
		MembershipPort:  membershipPort,
		BindOnLocalHost: true,
	}}
}

// freePorts returns n distinct ports that are free on loopback now. They
// come from below the kernel's ephemeral range (32768 and up), so no
// outgoing connection takes one before the server binds it, and a port is
// never handed out twice by this process, so embedded servers started side
// by side (in tests) do not race for one. The servers bind them later; a
// Temporal service whose port was taken in between does not start (its
// membership listener fails), so this matters.
func freePorts(n int) ([]int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	if nextPort == 0 {
		nextPort = portsLow + rand.IntN(portsHigh-portsLow)
	}
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries == portsHigh-portsLow {
			return nil, errors.New("find a free port: none left below the ephemeral range")
		}
		p := nextPort
		if nextPort++; nextPort == portsHigh {
			nextPort = portsLow
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue // in use
		}
		_ = l.Close()
		ports = append(ports, p)
	}
	return ports, nil
}

// The range freePorts hands ports out of, and where it goes on.
const (
	portsLow  = 20000
	portsHigh = 32000
)

var (
	portsMu  sync.Mutex
	nextPort int
)
