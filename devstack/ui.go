package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	sdklog "go.temporal.io/sdk/log"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	"github.com/temporalio/ui-server/v2/server/server_options"
)

// UI is a running Temporal Web UI.
type UI struct {
	server *uiserver.Server
	url    string
	done   chan struct{}
}

type uiConfigProvider struct{ cfg *uiconfig.Config }

func (p uiConfigProvider) GetConfig() (*uiconfig.Config, error) { return p.cfg, nil }

// StartUI serves the Temporal Web UI for the server at temporalAddress on
// 127.0.0.1:port (0 picks a free port) and waits until it answers.
func StartUI(ctx context.Context, temporalAddress, namespace string, port int) (*UI, error) {
	if port == 0 {
		ports, err := freePorts(1)
		if err != nil {
			return nil, err
		}
		port = ports[0]
	}
	// The UI server exits the process when it cannot listen, so the port is
	// checked first.
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("web ui: port %d is taken; choose another with --ui-port: %w", port, err)
	}
	_ = l.Close()

	cfg := &uiconfig.Config{
		TemporalGRPCAddress: temporalAddress,
		Host:                "127.0.0.1",
		Port:                port,
		EnableUI:            true,
		DefaultNamespace:    namespace,
		HideLogs:            true,
		CORS:                uiconfig.CORS{CookieInsecure: true},
		DisableNewsFetch:    true,
		Distribution:        "tierwise",
	}
	u := &UI{
		server: uiserver.NewServer(server_options.WithConfigProvider(uiConfigProvider{cfg})),
		url:    fmt.Sprintf("http://127.0.0.1:%d", port),
		done:   make(chan struct{}),
	}
	go func() {
		defer close(u.done)
		_ = u.server.Start()
	}()
	if err := waitHTTP(ctx, u.url+"/healthz"); err != nil {
		u.Stop()
		return nil, fmt.Errorf("web ui: %w", err)
	}
	return u, nil
}

// URL is the UI's base URL.
func (u *UI) URL() string { return u.url }

// Stop stops the UI server.
func (u *UI) Stop() {
	u.server.Stop()
	<-u.done
}

// waitHTTP polls url until it answers 200 or ctx ends.
func waitHTTP(ctx context.Context, url string) error {
	c := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("wait for %s", url), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// quietSDKLogger discards the SDK client's own logging.
func quietSDKLogger() sdklog.Logger {
	return sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
}
