package browser_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/api"
	"github.com/tierwise/tierwise/internal/pgtest"
	"github.com/tierwise/tierwise/internal/temporaltest"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/worker"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const adminKey = "tw_admin_browser_test"

// testBundle is the whole stack behind the console and a Chromium tab on it.
type testBundle struct {
	t     *testing.T
	url   string
	pool  *pgxpool.Pool
	store *store.Store
	tab   context.Context
}

// stack says what a test needs besides the console and PostgreSQL.
type stack struct {
	// temporal starts an embedded Temporal server and the worker, for tests
	// whose postbacks must be priced.
	temporal bool
}

func setup(t *testing.T, s stack) *testBundle {
	t.Helper()
	chromium := chromiumPath(t)
	pool := pgtest.Pool(t)
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	cfg := api.Config{Pool: pool, AdminKeys: []string{adminKey}, Logger: logger, Console: true}
	if s.temporal {
		ts := temporaltest.Start(t)
		cfg.Temporal, cfg.TemporalUIURL, cfg.Namespace = ts.Client(), "http://127.0.0.1:8233", "default"
		w := worker.New(ts.Client(), worker.Config{Pool: pool, Logger: logger, SweepInterval: 200 * time.Millisecond})
		require.NoError(t, w.Start())
		t.Cleanup(w.Stop)
	}
	srv := api.NewServer(cfg)
	stop := srv.Start()
	httpServer := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { httpServer.Close(); stop() })
	b := &testBundle{t: t, url: httpServer.URL, pool: pool, store: store.New(pool)}
	b.tab = openTab(t, chromium)
	return b
}

// chromiumPath is Debian's Chromium, or the binary TIERWISE_CHROMIUM names.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("TIERWISE_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no Chromium at %s: install it (apt-get install -y chromium, as .ci/run does) or set TIERWISE_CHROMIUM: %v", path, err)
	}
	return path
}

// openTab starts a headless Chromium of the test's own, with a fresh
// profile and every background fetch off (the machines that run the tests
// have no internet: a refused connection must not stall the browser), and
// returns its tab. The browser stops when the test ends.
func openTab(t *testing.T, chromium string) context.Context {
	t.Helper()
	profile, err := os.MkdirTemp("", "tierwise-chromium-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(profile) })
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(profile),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.WindowSize(1440, 960),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// The first run starts the browser; it must have no deadline of its own.
	require.NoError(t, chromedp.Do(tab), "start Chromium")
	return tab
}

// stepTimeout bounds one group of browser steps.
const stepTimeout = 30 * time.Second

// do runs browser steps; on failure it saves a screenshot and says where.
func (b *testBundle) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.tab, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.failed(err)
	}
}

// run runs one browser action that returns a value.
func run[T any](b *testBundle, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.tab, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.failed(err)
	}
	return v
}

// failed saves a screenshot of the page as it is and fails the test.
func (b *testBundle) failed(err error) {
	b.t.Helper()
	if shot, serr := b.capture(); serr == nil {
		path := filepath.Join(os.TempDir(), "tierwise-"+strings.ReplaceAll(b.t.Name(), "/", "-")+"-failure.png")
		if os.WriteFile(path, shot, 0o644) == nil {
			b.t.Logf("screenshot of the failure: %s", path)
		}
	}
	b.t.Fatalf("browser: %v", err)
}

func (b *testBundle) capture() ([]byte, error) {
	ctx, cancel := context.WithTimeout(b.tab, 10*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.FullScreenshot(100))
}

// screenshot saves the page as name.png: into TIERWISE_SCREENSHOTS when
// set (the docs' screenshots), else into the test's temporary directory.
func (b *testBundle) screenshot(name string) {
	b.t.Helper()
	dir := os.Getenv("TIERWISE_SCREENSHOTS")
	if dir == "" {
		dir = b.t.TempDir()
	}
	require.NoError(b.t, os.MkdirAll(dir, 0o755))
	// From the top, so that the sticky navigation is drawn where it sits.
	b.do(chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	shot, err := b.capture()
	require.NoError(b.t, err, "screenshot")
	path := filepath.Join(dir, name+".png")
	require.NoError(b.t, os.WriteFile(path, shot, 0o644))
	b.t.Logf("screenshot: %s", path)
}

// page opens a console path.
func (b *testBundle) page(path string) chromedp.Action[chromedp.Void] {
	return chromedp.Navigate(b.url + path)
}

// signIn signs in through the sign-in page, as a manager does.
func (b *testBundle) signIn() {
	b.t.Helper()
	b.do(
		b.page("/console/"),
		chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SendKeys(chromedp.ID("key"), adminKey),
		chromedp.Click(chromedp.ID("sign-in")),
		chromedp.WaitVisible(chromedp.CSS(`nav[aria-label="Console"]`)),
	)
	require.Equal(b.t, b.url+"/console/", run(b, chromedp.Location()))
}

// text is the visible text of the first element a CSS selector finds.
func (b *testBundle) text(css string) string {
	b.t.Helper()
	return run(b, chromedp.Text(chromedp.CSS(css)))
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *testBundle, js string) T {
	b.t.Helper()
	return run(b, chromedp.Evaluate[T](js))
}

// fill types a value into an empty input.
func fill(css, value string) chromedp.Action[chromedp.Void] {
	return chromedp.SendKeys(chromedp.CSS(css), value)
}

// choose picks the option of a select by its value.
func choose(css, value string) chromedp.Action[chromedp.Void] {
	return chromedp.SetValue(chromedp.CSS(css), value)
}

// postback sends a postback the way an advertiser's server does.
func (b *testBundle) postback(params url.Values) int64 {
	b.t.Helper()
	return b.postbackAnswer(params).ConversionID
}

// postbackAnswer is tierwise's answer to a postback.
type postbackAnswer struct {
	ConversionID int64  `json:"conversion_id"`
	Duplicate    bool   `json:"duplicate"`
	Status       string `json:"status"`
}

// postbackAnswer sends a postback and returns the answer.
func (b *testBundle) postbackAnswer(params url.Values) postbackAnswer {
	b.t.Helper()
	resp, err := http.Get(b.url + "/postback?" + params.Encode())
	require.NoError(b.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	require.Equal(b.t, http.StatusOK, resp.StatusCode, "postback: %s", raw)
	var body postbackAnswer
	require.NoError(b.t, json.Unmarshal(raw, &body))
	return body
}

// adminAPI sends a JSON request to the API as the admin and decodes the
// answer into out, requiring the status.
func (b *testBundle) adminAPI(status int, method, path string, body, out any) {
	b.t.Helper()
	buf, err := json.Marshal(body)
	require.NoError(b.t, err)
	req, err := http.NewRequest(method, b.url+path, strings.NewReader(string(buf)))
	require.NoError(b.t, err)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	require.Equal(b.t, status, resp.StatusCode, "%s %s: %s", method, path, raw)
	if out != nil {
		require.NoError(b.t, json.Unmarshal(raw, out))
	}
}

func id(n int64) string { return fmt.Sprint(n) }
