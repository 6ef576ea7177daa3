// Package pgcluster runs a throwaway PostgreSQL cluster from the machine's own
// binaries (initdb, postgres) as a child process: for the dev stack and for
// tests, never for production.
package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Superuser is the cluster's superuser; it connects without a password over
// loopback.
const Superuser = "tierwise"

// Config configures a cluster.
type Config struct {
	// Dir holds the cluster's data. initdb creates it when it holds no
	// cluster; otherwise the cluster in it is started again.
	Dir string
	// Port on 127.0.0.1; 0 picks a free one.
	Port int
	// Durable keeps fsync on. Tests turn it off for speed; a crash of the
	// machine may then lose their data, which they throw away anyway.
	Durable bool
	// LogFile receives the server's log; empty means Dir/../postgres.log.
	LogFile string
	Logger  *slog.Logger
	// TrackStatements loads pg_stat_statements (a server setting, so the
	// extension's view works in any database that creates it) when the
	// machine's PostgreSQL has it; without it the cluster starts as usual.
	TrackStatements bool
}

// Cluster is a running PostgreSQL server.
type Cluster struct {
	cmd     *exec.Cmd
	port    int
	exited  chan struct{}
	waitErr error
	logFile *os.File
	logger  *slog.Logger
}

// Start creates the cluster when needed, starts it and waits until it accepts
// connections. The server is a child of this process and receives SIGQUIT if
// this process dies, so it never outlives it.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Dir == "" {
		return nil, errors.New("pgcluster: Dir is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	cred, err := credential(dir, cfg.Logger)
	if err != nil {
		return nil, err
	}

	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		cfg.Logger.Info("creating PostgreSQL cluster", "dir", dir)
		if err := initdb(ctx, bin, dir, cred); err != nil {
			return nil, err
		}
	}

	port := cfg.Port
	if port == 0 {
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	logPath := cfg.LogFile
	if logPath == "" {
		logPath = filepath.Join(filepath.Dir(dir), "postgres.log")
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: open log: %w", err)
	}

	args := []string{
		"-D", dir,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "max_connections=400",
		"-c", "shared_buffers=256MB",
	}
	if !cfg.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	if cfg.TrackStatements {
		if hasStatStatements(bin) {
			args = append(args, "-c", "shared_preload_libraries=pg_stat_statements")
		} else {
			cfg.Logger.Info("pg_stat_statements is not installed; PostgreSQL starts without it")
		}
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// SIGQUIT is PostgreSQL's immediate shutdown: the postmaster stops its
	// backends and exits.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("pgcluster: start postgres: %w", err)
	}
	c := &Cluster{cmd: cmd, port: port, exited: make(chan struct{}), logFile: logFile, logger: cfg.Logger}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()

	if err := c.waitReady(ctx, logPath); err != nil {
		_ = c.Stop()
		return nil, err
	}
	return c, nil
}

// Port is the TCP port the server listens on at 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// PID is the postmaster's process id.
func (c *Cluster) PID() int { return c.cmd.Process.Pid }

// URL is a connection string for database as the superuser.
func (c *Cluster) URL(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(Superuser),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Stop shuts the server down (fast mode: open sessions are ended, data is
// kept) and waits for it to exit. It is safe to call more than once.
func (c *Cluster) Stop() error {
	select {
	case <-c.exited:
	default:
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.exited:
		case <-time.After(30 * time.Second):
			c.logger.Warn("PostgreSQL did not stop in 30s; killing it")
			_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
			<-c.exited
		}
	}
	if c.logFile != nil {
		_ = c.logFile.Close()
		c.logFile = nil
	}
	return nil
}

func (c *Cluster) waitReady(ctx context.Context, logPath string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err == nil {
			_ = conn.Close(ctx)
			return nil
		}
		select {
		case <-c.exited:
			return fmt.Errorf("pgcluster: postgres exited (%v): %s", c.waitErr, tail(logPath))
		case <-ctx.Done():
			return fmt.Errorf("pgcluster: postgres not ready: %w: %s", err, tail(logPath))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func initdb(ctx context.Context, bin, dir string, cred *syscall.Credential) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pgcluster: create %s: %w", dir, err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("pgcluster: chown %s: %w", dir, err)
		}
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", dir, "-U", Superuser, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = os.TempDir()
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pgcluster: initdb: %w: %s", err, out.String())
	}
	return nil
}

// hasStatStatements reports whether the PostgreSQL of bin has the
// pg_stat_statements library and extension (in the directories pg_config
// names): a server told to preload a library it does not have refuses to
// start, and the view needs the extension's files.
func hasStatStatements(bin string) bool {
	out, err := exec.Command(filepath.Join(bin, "pg_config"), "--pkglibdir", "--sharedir").Output()
	if err != nil {
		return false
	}
	dirs := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(dirs) != 2 {
		return false
	}
	for _, f := range []string{filepath.Join(dirs[0], "pg_stat_statements.so"), filepath.Join(dirs[1], "extension", "pg_stat_statements.control")} {
		if _, err := os.Stat(f); err != nil {
			return false
		}
	}
	return true
}

// binDir finds the directory with initdb and postgres: on PATH, else the
// newest Debian-style /usr/lib/postgresql/<version>/bin.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(real), nil
		}
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("pgcluster: initdb not found on PATH nor in /usr/lib/postgresql/*/bin; install PostgreSQL or set DATABASE_URL")
}

// credential returns the user to run PostgreSQL as. PostgreSQL refuses to run
// as root, so as root it runs as the "postgres" system user, which then owns
// the cluster directory and must be able to reach it.
func credential(dir string, logger *slog.Logger) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: running as root needs a \"postgres\" system user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("pgcluster: create %s: %w", filepath.Dir(dir), err)
	}
	// Every ancestor needs search permission for the postgres user.
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return nil, fmt.Errorf("pgcluster: %w", err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			logger.Info("allowing the postgres user to traverse a directory", "dir", d)
			if err := os.Chmod(d, fi.Mode().Perm()|0o001); err != nil {
				return nil, fmt.Errorf("pgcluster: chmod %s: %w", d, err)
			}
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	if _, err := os.Stat(dir); err == nil {
		if err := chownTree(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func chownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(path, uid, gid); err != nil {
			return fmt.Errorf("pgcluster: chown %s: %w", path, err)
		}
		return nil
	})
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgcluster: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last lines of a log file for an error message.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, "\n")
}
