package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/roy/roy-procwatch/daemon/procs"
)

// tokenFile is the packaged install's token.
const tokenFile = "/etc/roy-procwatch/token"

// config is every setting, from flags over ROY_PROCWATCH_* variables over
// ./.env (standalone only, and only a file the daemon's user owns).
type config struct {
	Host                   string
	Port                   int
	IdleExit               time.Duration
	AllowedHosts           []string
	Signals                []string
	RestartTimeout         time.Duration
	SnapshotTTL            time.Duration
	Bus                    string // system | session | none | a D-Bus address
	LogLevel               string
	RequireSocket          bool
	TokenFile              string
	AuditFile              string
	AuditMaxSize           int64
	ReadTokenFile          string
	MetricsTop             int
	MetricsMaxListenSeries int

	readToken       string
	readTokenSource string // for logs: never the token itself

	token       string
	tokenSource string // for logs: never the token itself
	generated   bool

	lookup   func(string) (string, bool) // environment, then ./.env
	warnings []string                    // for the log, once it exists
}

// setting documents one ROY_PROCWATCH_* variable (for --help).
type setting struct{ env, flag, def, help string }

var settings = []setting{
	{"ROY_PROCWATCH_HOST", "host", "127.0.0.1", "address to listen on in standalone mode (no systemd socket)"},
	{"ROY_PROCWATCH_PORT", "port", "8088", "port to listen on in standalone mode"},
	{"ROY_PROCWATCH_TOKEN", "", "", "the API token (X-Auth-Token); prefer a token file for services"},
	{"ROY_PROCWATCH_TOKEN_FILE", "token-file", tokenFile, "file holding the token (used when $CREDENTIALS_DIRECTORY/token and ROY_PROCWATCH_TOKEN are absent)"},
	{"ROY_PROCWATCH_READ_TOKEN", "", "", "the read-only token: every GET and /metrics (also as Authorization: Bearer), never an action"},
	{"ROY_PROCWATCH_READ_TOKEN_FILE", "read-token-file", readTokenFile, "file holding the read-only token (used when $CREDENTIALS_DIRECTORY/read-token and ROY_PROCWATCH_READ_TOKEN are absent; none is fine)"},
	{"ROY_PROCWATCH_METRICS_TOP", "metrics-top", "0", "export CPU and RSS of the N busiest processes on /metrics, labelled by PID (high cardinality; 0 = off)"},
	{"ROY_PROCWATCH_METRICS_MAX_LISTEN_SERIES", "metrics-max-listen-series", "1000", "cap on roy_procwatch_listen_info series per scrape (the rest are counted as dropped)"},
	{"ROY_PROCWATCH_IDLE_EXIT", "idle-exit", "0", "exit after this long without requests (e.g. 10min; 0 = never); socket activation starts it again"},
	{"ROY_PROCWATCH_ALLOWED_HOSTS", "allowed-hosts", "", "extra Host header values to accept, comma-separated (reverse proxies)"},
	{"ROY_PROCWATCH_SIGNALS", "signals", strings.Join(procs.DefaultSignals, ","), "signals callers may send, comma-separated"},
	{"ROY_PROCWATCH_RESTART_TIMEOUT", "restart-timeout", "5s", "how long a relaunch waits after SIGTERM before SIGKILL"},
	{"ROY_PROCWATCH_SNAPSHOT_TTL", "snapshot-ttl", "2s", "how long one process snapshot serves every client"},
	{"ROY_PROCWATCH_BUS", "bus", "system", "D-Bus to publish on: system, session, none, or a bus address"},
	{"ROY_PROCWATCH_LOG_LEVEL", "log-level", "info", "debug, info, warn or error"},
	{"ROY_PROCWATCH_AUDIT_FILE", "audit-file", "", "append one JSON line per action (allowed or refused) to this file, fsynced; under systemd the default is $STATE_DIRECTORY/audit.log"},
	{"ROY_PROCWATCH_AUDIT_MAX_SIZE", "audit-max-size", "10M", "rotate the audit file to <file>.1 (one old file kept) before it grows past this size: bytes, or with K, M, G; 0 = never"},
	{"ROY_PROCWATCH_REQUIRE_SOCKET", "require-socket", "false", "refuse to start without a systemd-passed socket (set by the packaged unit)"},
}

// parseSize accepts a byte count with an optional K, M or G suffix (powers
// of 1024, "KiB"/"MB" spellings too); "0" means no limit and is returned
// as -1.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	num := strings.TrimRight(strings.ToUpper(s), "KMGIB")
	unit := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(s)[len(num):], "B"), "I")
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q: a byte count, optionally with K, M or G (e.g. 10M)", s)
	}
	shift := map[string]uint{"": 0, "K": 10, "M": 20, "G": 30}
	sh, ok := shift[unit]
	if !ok || n > (1<<62)>>sh {
		return 0, fmt.Errorf("invalid size %q: a byte count, optionally with K, M or G (e.g. 10M)", s)
	}
	if n == 0 {
		return -1, nil
	}
	return n << sh, nil
}

// parseDuration accepts Go durations and systemd's "10min", "30sec", plain
// seconds.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	r := strings.NewReplacer("min", "m", "sec", "s", "hour", "h")
	d, err := time.ParseDuration(r.Replace(s))
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid duration %q (e.g. 30s, 10min)", s)
	}
	return d, nil
}

// readEnvFile parses KEY=VALUE lines (comments, "export ", quotes) and
// returns the ROY_PROCWATCH_* ones. It changes no environment.
func readEnvFile(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		if strings.HasPrefix(k, "ROY_PROCWATCH_") {
			out[k] = v
		}
	}
	return out, sc.Err()
}

// readDotEnv reads ./.env for a standalone daemon, only if the daemon's
// own user (or root) owns it and neither group nor others may write it:
// anything else could be another local user choosing the token, or where
// a root daemon writes its audit file. An untrusted file is ignored with a
// warning; a missing one is no error. Symlinks are not followed, and the
// checks are made on the open file, so what is read is what was checked.
func readDotEnv(path string) (vals map[string]string, warning string, err error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil
	}
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Sprintf("ignoring %s: it is a symbolic link", path), nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("cannot read %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, "", fmt.Errorf("cannot read %s: %w", path, err)
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		return nil, fmt.Sprintf("ignoring %s: not a regular file", path), nil
	case st == nil:
		return nil, fmt.Sprintf("ignoring %s: cannot tell its owner", path), nil
	case st.Uid != 0 && int(st.Uid) != os.Geteuid():
		return nil, fmt.Sprintf("ignoring %s: owned by uid %d, not by this daemon's user (uid %d) or root", path, st.Uid, os.Geteuid()), nil
	case fi.Mode().Perm()&0o022 != 0:
		return nil, fmt.Sprintf("ignoring %s: writable by group or others (mode %04o); chmod go-w it", path, fi.Mode().Perm()), nil
	}
	vals, err = readEnvFile(f)
	if err != nil {
		return nil, "", fmt.Errorf("cannot read %s: %w", path, err)
	}
	return vals, "", nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// loadConfig reads the settings: flags over the environment over ./.env
// (standalone only). /etc/default/roy-procwatch is not read here: the
// unit's EnvironmentFile= reads it for the service (systemd's syntax, and
// its precedence over the unit's Environment= defaults).
func loadConfig(args []string, stderr io.Writer, activated bool) (*config, error) {
	var dotEnv map[string]string
	var warnings []string
	if !activated {
		// Standalone development: .env in the working directory.
		vals, warning, err := readDotEnv(".env")
		if err != nil {
			return nil, err
		}
		if warning != "" {
			warnings = append(warnings, warning)
		}
		dotEnv = vals
	}
	lookup := func(k string) (string, bool) {
		if v, ok := os.LookupEnv(k); ok {
			return v, true
		}
		v, ok := dotEnv[k]
		return v, ok
	}
	env := func(k string) string {
		for _, s := range settings {
			if s.env == k {
				if v, ok := lookup(k); ok && v != "" {
					return v
				}
				return s.def
			}
		}
		v, _ := lookup(k)
		return v
	}

	fset := flag.NewFlagSet("roy-procwatchd", flag.ContinueOnError)
	fset.SetOutput(stderr)
	vals := map[string]*string{}
	for _, s := range settings {
		if s.flag != "" {
			vals[s.env] = fset.String(s.flag, env(s.env), s.help+" ($"+s.env+")")
		}
	}
	showVersion := fset.Bool("version", false, "print the version and exit")
	fset.Usage = func() { usage(stderr) }
	if err := fset.Parse(args); err != nil {
		return nil, err
	}
	if *showVersion {
		fmt.Fprintln(stderr, "roy-procwatchd", version)
		return nil, flag.ErrHelp
	}
	if fset.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (see --help)", fset.Arg(0))
	}
	get := func(k string) string { return strings.TrimSpace(*vals[k]) }

	c := &config{
		lookup:        lookup,
		warnings:      warnings,
		Host:          get("ROY_PROCWATCH_HOST"),
		AllowedHosts:  splitList(get("ROY_PROCWATCH_ALLOWED_HOSTS")),
		Signals:       splitList(get("ROY_PROCWATCH_SIGNALS")),
		Bus:           get("ROY_PROCWATCH_BUS"),
		LogLevel:      strings.ToLower(get("ROY_PROCWATCH_LOG_LEVEL")),
		TokenFile:     get("ROY_PROCWATCH_TOKEN_FILE"),
		AuditFile:     get("ROY_PROCWATCH_AUDIT_FILE"),
		ReadTokenFile: get("ROY_PROCWATCH_READ_TOKEN_FILE"),
	}
	if c.AuditFile == "" && os.Getenv("STATE_DIRECTORY") != "" {
		// systemd's StateDirectory= (a colon-separated list): the first.
		c.AuditFile = filepath.Join(strings.Split(os.Getenv("STATE_DIRECTORY"), ":")[0], "audit.log")
	}
	var err error
	if c.Port, err = strconv.Atoi(get("ROY_PROCWATCH_PORT")); err != nil || c.Port < 1 || c.Port > 65535 {
		return nil, fmt.Errorf("invalid ROY_PROCWATCH_PORT %q: must be 1..65535", get("ROY_PROCWATCH_PORT"))
	}
	if c.IdleExit, err = parseDuration(get("ROY_PROCWATCH_IDLE_EXIT")); err != nil {
		return nil, fmt.Errorf("ROY_PROCWATCH_IDLE_EXIT: %w", err)
	}
	if c.RestartTimeout, err = parseDuration(get("ROY_PROCWATCH_RESTART_TIMEOUT")); err != nil {
		return nil, fmt.Errorf("ROY_PROCWATCH_RESTART_TIMEOUT: %w", err)
	}
	if c.SnapshotTTL, err = parseDuration(get("ROY_PROCWATCH_SNAPSHOT_TTL")); err != nil {
		return nil, fmt.Errorf("ROY_PROCWATCH_SNAPSHOT_TTL: %w", err)
	}
	if c.AuditMaxSize, err = parseSize(get("ROY_PROCWATCH_AUDIT_MAX_SIZE")); err != nil {
		return nil, fmt.Errorf("ROY_PROCWATCH_AUDIT_MAX_SIZE: %w", err)
	}
	if c.MetricsTop, err = strconv.Atoi(get("ROY_PROCWATCH_METRICS_TOP")); err != nil || c.MetricsTop < 0 || c.MetricsTop > 1000 {
		return nil, fmt.Errorf("invalid ROY_PROCWATCH_METRICS_TOP %q: 0..1000", get("ROY_PROCWATCH_METRICS_TOP"))
	}
	if c.MetricsMaxListenSeries, err = strconv.Atoi(get("ROY_PROCWATCH_METRICS_MAX_LISTEN_SERIES")); err != nil || c.MetricsMaxListenSeries < 1 || c.MetricsMaxListenSeries > 100000 {
		return nil, fmt.Errorf("invalid ROY_PROCWATCH_METRICS_MAX_LISTEN_SERIES %q: 1..100000", get("ROY_PROCWATCH_METRICS_MAX_LISTEN_SERIES"))
	}
	if c.RequireSocket, err = strconv.ParseBool(get("ROY_PROCWATCH_REQUIRE_SOCKET")); err != nil {
		return nil, fmt.Errorf("invalid ROY_PROCWATCH_REQUIRE_SOCKET %q: true or false", get("ROY_PROCWATCH_REQUIRE_SOCKET"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return nil, fmt.Errorf("invalid ROY_PROCWATCH_LOG_LEVEL %q: debug, info, warn or error", c.LogLevel)
	}
	return c, nil
}

// loadToken finds the token: $CREDENTIALS_DIRECTORY/token (systemd's
// LoadCredential=), then ROY_PROCWATCH_TOKEN, then the token file. A
// standalone daemon with none generates one; a service refuses to start.
func (c *config) loadToken(standalone bool) error {
	try := func(path, source string) (bool, error) {
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if errors.Is(err, fs.ErrPermission) && standalone {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("cannot read the token from %s: %w", source, err)
		}
		t := strings.TrimSpace(string(b))
		if t == "" {
			return false, fmt.Errorf("the token in %s is empty", source)
		}
		c.token, c.tokenSource = t, source
		return true, nil
	}
	if dir := os.Getenv("CREDENTIALS_DIRECTORY"); dir != "" {
		if ok, err := try(filepath.Join(dir, "token"), "credential token"); ok || err != nil {
			return c.checkToken(err)
		}
	}
	v, _ := c.lookup("ROY_PROCWATCH_TOKEN")
	if t := strings.TrimSpace(v); t != "" {
		c.token, c.tokenSource = t, "ROY_PROCWATCH_TOKEN"
		return c.checkToken(nil)
	}
	if c.TokenFile != "" {
		if ok, err := try(c.TokenFile, c.TokenFile); ok || err != nil {
			return c.checkToken(err)
		}
	}
	if !standalone {
		return fmt.Errorf("no token: create %s (0600) or set ROY_PROCWATCH_TOKEN; refusing to serve without authentication", tokenFile)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	c.token, c.tokenSource, c.generated = hex.EncodeToString(b[:]), "generated", true
	return nil
}

func (c *config) checkToken(err error) error {
	if err != nil {
		return err
	}
	if len(c.token) > 256 {
		return fmt.Errorf("the token from %s is longer than 256 bytes", c.tokenSource)
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `roy-procwatchd %s — process and port supervisor (HTTP API, UI and D-Bus)

Usage: roy-procwatchd [flags]

Under systemd (roy-procwatch.socket) it serves the passed socket; otherwise
it listens on ROY_PROCWATCH_HOST:ROY_PROCWATCH_PORT (standalone mode, which
also reads ./.env when the daemon's user or root owns it and group and
others cannot write it). Every setting is a flag or an environment
variable; the packaged service takes them from /etc/default/roy-procwatch
(its EnvironmentFile=).

Settings:
`, version)
	for _, s := range settings {
		name := s.env
		if s.flag != "" {
			name = "--" + s.flag + ", " + s.env
		}
		def := ""
		if s.def != "" {
			def = " (default " + s.def + ")"
		}
		fmt.Fprintf(w, "  %s\n      %s%s\n", name, s.help, def)
	}
	fmt.Fprintf(w, `  --version
      print the version and exit

Token: read from $CREDENTIALS_DIRECTORY/token (systemd LoadCredential=), then
ROY_PROCWATCH_TOKEN, then the token file. Standalone with none, a random token
is generated and printed once. Send it as the X-Auth-Token header.

Read-only token: $CREDENTIALS_DIRECTORY/read-token, then ROY_PROCWATCH_READ_TOKEN,
then the read-token file; optional. It opens every GET (and GET /metrics,
also as "Authorization: Bearer"), never an action.

Signals: SIGTERM/SIGINT stop gracefully; SIGHUP reloads both tokens.
`)
}
