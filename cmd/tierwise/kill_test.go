package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// runMainEnv makes the test binary run as the tierwise binary (TestMain):
// TestKillDuringLoad re-executes it as `tierwise dev`, so the test needs no
// second build of the Temporal server.
const runMainEnv = "TIERWISE_TEST_RUN_MAIN"

// devProcess is `tierwise dev` running as a child process of the test.
type devProcess struct {
	t           *testing.T
	cmd         *exec.Cmd
	exited      chan struct{}
	apiURL      string
	adminKey    string
	databaseURL string
	logPath     string
}

// startDev starts `tierwise dev` on dataDir with free ports and waits until
// it prints that it is ready. The process is stopped (SIGINT, then SIGKILL)
// when the test ends, and dies with the test binary.
func startDev(t *testing.T, dataDir, name string) *devProcess {
	t.Helper()
	d := &devProcess{t: t, exited: make(chan struct{}), logPath: filepath.Join(t.TempDir(), name+".log")}
	logFile, err := os.Create(d.logPath)
	require.NoError(t, err)
	t.Cleanup(func() { _ = logFile.Close() })
	d.cmd = exec.Command(os.Args[0], "dev", "--data-dir", dataDir, "--api-addr", "127.0.0.1:0",
		"--temporal-port", "0", "--ui-port", "0", "--temporal-metrics-port", "0")
	d.cmd.Env = append(childEnv(), runMainEnv+"=1", "LOG_LEVEL=warn")
	d.cmd.Stderr = logFile
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := d.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, d.cmd.Start())
	go func() {
		_ = d.cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(d.stop)

	ready := make(chan error, 1)
	go func() {
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			key, value, _ := strings.Cut(strings.TrimSpace(lines.Text()), ":")
			value = strings.TrimSpace(value)
			switch key {
			case "API":
				d.apiURL = value
			case "DATABASE_URL":
				d.databaseURL = value
			case "Admin key":
				d.adminKey = value
			case "Press Ctrl-C to stop.":
				ready <- nil
				_, _ = io.Copy(io.Discard, stdout)
				return
			}
		}
		ready <- fmt.Errorf("tierwise dev ended its output before it was ready: %v", lines.Err())
	}()
	select {
	case err := <-ready:
		require.NoError(t, err, d.logTail())
	case <-time.After(time.Minute):
		t.Fatalf("tierwise dev was not ready in a minute:\n%s", d.logTail())
	}
	require.NotEmpty(t, d.apiURL)
	require.NotEmpty(t, d.adminKey)
	require.NotEmpty(t, d.databaseURL)
	return d
}

// childEnv is the test's environment without what would point the dev
// stack elsewhere than its own data directory.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		key, _, _ := strings.Cut(kv, "=")
		switch key {
		case "DATABASE_URL", "TIERWISE_ADMIN_KEY", "TEMPORAL_NAMESPACE", "LOG_LEVEL", "LOG_FORMAT", runMainEnv:
			continue
		}
		env = append(env, kv)
	}
	return env
}

// kill sends SIGKILL and waits until the process is gone.
func (d *devProcess) kill() error {
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill tierwise dev: %w", err)
	}
	select {
	case <-d.exited:
		return nil
	case <-time.After(30 * time.Second):
		return errors.New("tierwise dev did not die of SIGKILL in 30s")
	}
}

// stop ends the process as Ctrl-C does, and kills it if that takes long.
func (d *devProcess) stop() {
	select {
	case <-d.exited:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		d.t.Logf("tierwise dev did not stop in 30s; killing it")
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
}

func (d *devProcess) logTail() string {
	b, _ := os.ReadFile(d.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// admin sends an admin request that must succeed and decodes its answer.
func (d *devProcess) admin(method, path string, body, out any) {
	d.t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(d.t, err)
	req, err := http.NewRequest(method, d.apiURL+path, strings.NewReader(string(raw)))
	require.NoError(d.t, err)
	req.Header.Set("Authorization", "Bearer "+d.adminKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(d.t, err)
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	require.NoError(d.t, err)
	require.Less(d.t, resp.StatusCode, 300, "%s %s: %s", method, path, answer)
	if out != nil {
		require.NoError(d.t, json.Unmarshal(answer, out))
	}
}

// postgresLeft lists the processes of the PostgreSQL cluster in dir that are
// still there: every PostgreSQL process works in its data directory, and the
// postmaster's pid is in postmaster.pid (a zombie postmaster would still
// make the next start refuse the data directory).
func postgresLeft(dir string) []string {
	var left []string
	if raw, err := os.ReadFile(filepath.Join(dir, "postmaster.pid")); err == nil {
		pid, _, _ := strings.Cut(string(raw), "\n")
		if _, err := os.Stat(filepath.Join("/proc", strings.TrimSpace(pid))); err == nil {
			left = append(left, "postmaster "+pid)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		if cwd, err := os.Readlink(filepath.Join(p, "cwd")); err == nil && cwd == dir {
			cmdline, _ := os.ReadFile(filepath.Join(p, "cmdline"))
			left = append(left, filepath.Base(p)+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return left
}

// killPostback is one postback of the load, and what became of it.
type killPostback struct {
	user, order string // order empty: the customer's base conversion
	answered    bool   // answered 200
	id          int64
}

// TestKillDuringLoad: `tierwise dev` killed with SIGKILL in the middle of a
// load of postbacks (several customers, repeatable deposits, some postbacks
// sent twice, from several goroutines) and started again on the same data
// directory loses nothing and counts nothing twice: every postback answered
// 200 is priced exactly once, with one payout and one revenue line, and a
// postback whose answer the crash cut off, sent again, is answered as the
// conversion it had stored (DESIGN §9).
func TestKillDuringLoad(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("initdb"); err != nil {
		if dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(dirs) == 0 {
			t.Skip("needs the PostgreSQL server binaries (initdb, postgres)")
		}
	}
	start := time.Now()
	dataDir, err := filepath.EvalSymlinks(t.TempDir())
	require.NoError(t, err)
	dev := startDev(t, dataDir, "first")
	t.Logf("tierwise dev ready in %s", time.Since(start).Round(time.Millisecond))

	var adv struct {
		ID    int64  `json:"id"`
		Token string `json:"postback_token"`
	}
	dev.admin(http.MethodPost, "/advertisers", map[string]any{"name": "Broker"}, &adv)
	var offer, partner struct {
		ID int64 `json:"id"`
	}
	rate := func(typ, amount string) map[string]string { return map[string]string{"type": typ, "amount": amount} }
	dev.admin(http.MethodPost, "/offers", map[string]any{
		"advertiser_id": adv.ID, "name": "Broker sign-up", "visibility": "public", "currency": "USD",
		"destination_url": "https://advertiser.example/?click={transaction_id}",
		"events": []map[string]any{
			{"event": "", "payout": rate("cpa", "5.00"), "revenue": rate("rpa", "8.00")},
			{"event": "deposit", "payout": rate("cpa", "1.00"), "revenue": rate("rpa", "2.00"), "repeatable": true},
		},
	}, &offer)
	dev.admin(http.MethodPost, "/partners", map[string]any{"name": "Partner"}, &partner)

	// 12 customers, each a sign-up and 29 deposits; one postback in eight is
	// sent twice, as advertisers' retries do.
	var load []*killPostback
	for c := range 12 {
		user := fmt.Sprintf("kill-%02d", c)
		load = append(load, &killPostback{user: user})
		for d := range 29 {
			load = append(load, &killPostback{user: user, order: fmt.Sprintf("%s-d%02d", user, d)})
		}
	}
	rng := rand.New(rand.NewPCG(11, 8))
	rng.Shuffle(len(load), func(i, j int) { load[i], load[j] = load[j], load[i] })
	sends := append([]*killPostback(nil), load...)
	for i := 0; i < len(load); i += 8 {
		sends = append(sends, load[i])
	}
	rng.Shuffle(len(sends), func(i, j int) { sends[i], sends[j] = sends[j], sends[i] })

	httpClient := &http.Client{Timeout: 10 * time.Second}
	var mu sync.Mutex
	// send posts one postback and records the conversion it was answered
	// with; an answer that names another conversion than an earlier one
	// for the same postback fails the test.
	send := func(apiURL string, p *killPostback) (bool, error) {
		q := url.Values{"token": {adv.Token}, "offer_id": {strconv.FormatInt(offer.ID, 10)},
			"partner_id": {strconv.FormatInt(partner.ID, 10)}, "user_id": {p.user}}
		if p.order != "" {
			q.Set("event", "deposit")
			q.Set("order_id", p.order)
		}
		resp, err := httpClient.Get(apiURL + "/postback?" + q.Encode())
		if err != nil {
			return false, nil // cut off by the kill: unanswered
		}
		defer resp.Body.Close()
		var res struct {
			ConversionID int64  `json:"conversion_id"`
			Status       string `json:"status"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != http.StatusOK {
			// A process dying mid-answer, or an error answer: only a
			// 200 is an accept.
			if resp.StatusCode != http.StatusOK && resp.StatusCode < 500 {
				return false, fmt.Errorf("postback %s/%s answered %d", p.user, p.order, resp.StatusCode)
			}
			return false, nil
		}
		if res.Status != "approved" {
			return false, fmt.Errorf("postback %s/%s is %q", p.user, p.order, res.Status)
		}
		mu.Lock()
		defer mu.Unlock()
		if p.answered && p.id != res.ConversionID {
			return false, fmt.Errorf("postback %s/%s answered as conversion %d and as %d", p.user, p.order, p.id, res.ConversionID)
		}
		p.answered, p.id = true, res.ConversionID
		return true, nil
	}

	// Eight senders; the stack is killed once a third of the load is
	// answered, while the others are in flight.
	var answered atomic.Int64
	killAt := int64(len(sends) / 3)
	reached, fed, killed := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var killErr error
	go func() {
		select {
		case <-reached:
		case <-fed: // too few answers: the assertions below say so
		}
		killErr = dev.kill()
		close(killed)
	}()
	work := make(chan *killPostback)
	errs := make(chan error, len(sends))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for p := range work {
				ok, err := send(dev.apiURL, p)
				if err != nil {
					errs <- err
				}
				if ok && answered.Add(1) == killAt {
					close(reached)
				}
			}
		})
	}
	loadStart := time.Now()
feed:
	for _, p := range sends {
		select {
		case work <- p:
		case <-killed:
			break feed
		}
	}
	close(work)
	close(fed)
	wg.Wait()
	<-killed
	require.NoError(t, killErr)
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	beforeKill := answered.Load()
	t.Logf("killed after %d of %d postbacks were answered (%s of load)", beforeKill, len(sends), time.Since(loadStart).Round(time.Millisecond))
	require.GreaterOrEqual(t, beforeKill, killAt)
	require.Less(t, beforeKill, int64(len(sends)), "the kill came before the end of the load")

	// PostgreSQL went with its parent (SIGQUIT through the parent-death
	// signal); the next start needs the data directory free.
	pgDir := filepath.Join(dataDir, "postgres")
	require.Eventually(t, func() bool { return len(postgresLeft(pgDir)) == 0 }, 30*time.Second, 20*time.Millisecond,
		"PostgreSQL outlived tierwise dev: %v", postgresLeft(pgDir))

	restart := time.Now()
	dev = startDev(t, dataDir, "second")
	t.Logf("tierwise dev ready again in %s", time.Since(restart).Round(time.Millisecond))

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dev.databaseURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(ctx) })
	var unsignalled, unpriced int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE signalled_at IS NULL), count(*) FILTER (WHERE priced_at IS NULL)
		FROM conversions`).Scan(&unsignalled, &unpriced))
	t.Logf("at the restart: %d conversions not signalled, %d not priced", unsignalled, unpriced)

	// The advertiser sends again what was not answered, as advertisers do.
	for _, p := range load {
		if !p.answered {
			ok, err := send(dev.apiURL, p)
			require.NoError(t, err)
			require.True(t, ok, "postback %s/%s is answered after the restart", p.user, p.order)
		}
	}

	ids := make([]int64, 0, len(load))
	for _, p := range load {
		ids = append(ids, p.id)
	}
	require.Eventually(t, func() bool {
		var unpriced int
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM conversions WHERE priced_at IS NULL`).Scan(&unpriced))
		return unpriced == 0
	}, 60*time.Second, 50*time.Millisecond, "every accepted conversion is priced after the restart")
	t.Logf("all priced %s after the restart", time.Since(restart).Round(time.Millisecond))

	// Nothing was stored twice: the conversions are exactly those the
	// answers named, one per postback.
	rows, err := conn.Query(ctx, `SELECT id FROM conversions ORDER BY id`)
	require.NoError(t, err)
	stored, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	require.ElementsMatch(t, ids, stored, "one conversion per postback, each named by its answers")

	// Priced exactly once: one payout and one revenue line each, at the
	// offer's amounts, and nothing else.
	type line struct{ kind, reason, amount string }
	lines := map[int64][]line{}
	rows, err = conn.Query(ctx, `SELECT conversion_id, kind, reason, trim_scale(amount)::text FROM ledger_lines ORDER BY conversion_id, kind`)
	require.NoError(t, err)
	for rows.Next() {
		var id int64
		var l line
		require.NoError(t, rows.Scan(&id, &l.kind, &l.reason, &l.amount))
		lines[id] = append(lines[id], l)
	}
	require.NoError(t, rows.Err())
	for _, p := range load {
		want := []line{{"payout", "price", "5"}, {"revenue", "price", "8"}}
		if p.order != "" {
			want = []line{{"payout", "price", "1"}, {"revenue", "price", "2"}}
		}
		require.Equal(t, want, lines[p.id], "the lines of conversion %d (%s/%s)", p.id, p.user, p.order)
	}
	require.Len(t, lines, len(load), "no lines of other conversions")
	t.Logf("%d conversions, each priced once; %s in all", len(load), time.Since(start).Round(time.Millisecond))
}
