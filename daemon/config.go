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
	"time"

	"github.com/roy/roy-procwatch/daemon/procs"
)

// Paths of the packaged install.
const (
	defaultsFile = "/etc/default/roy-procwatch"
	tokenFile    = "/etc/roy-procwatch/token"
)

// config is every setting, from flags over ROY_PROCWATCH_* variables over
// .env (standalone) over /etc/default/roy-procwatch.
type config struct {
	Host           string
	Port           int
	IdleExit       time.Duration
	AllowedHosts   []string
	Signals        []string
	RestartTimeout time.Duration
	SnapshotTTL    time.Duration
	Bus            string // system | session | none | a D-Bus address
	LogLevel       string
	RequireSocket  bool
	TokenFile      string
	AuditFile      string

	token       string
	tokenSource string // for logs: never the token itself
	generated   bool
}

// setting documents one ROY_PROCWATCH_* variable (for --help).
type setting struct{ env, flag, def, help string }

var settings = []setting{
	{"ROY_PROCWATCH_HOST", "host", "127.0.0.1", "address to listen on in standalone mode (no systemd socket)"},
	{"ROY_PROCWATCH_PORT", "port", "8088", "port to listen on in standalone mode"},
	{"ROY_PROCWATCH_TOKEN", "", "", "the API token (X-Auth-Token); prefer a token file for services"},
	{"ROY_PROCWATCH_TOKEN_FILE", "token-file", tokenFile, "file holding the token (used when $CREDENTIALS_DIRECTORY/token and ROY_PROCWATCH_TOKEN are absent)"},
	{"ROY_PROCWATCH_IDLE_EXIT", "idle-exit", "0", "exit after this long without requests (e.g. 10min; 0 = never); socket activation starts it again"},
	{"ROY_PROCWATCH_ALLOWED_HOSTS", "allowed-hosts", "", "extra Host header values to accept, comma-separated (reverse proxies)"},
	{"ROY_PROCWATCH_SIGNALS", "signals", strings.Join(procs.DefaultSignals, ","), "signals callers may send, comma-separated"},
	{"ROY_PROCWATCH_RESTART_TIMEOUT", "restart-timeout", "5s", "how long a relaunch waits after SIGTERM before SIGKILL"},
	{"ROY_PROCWATCH_SNAPSHOT_TTL", "snapshot-ttl", "2s", "how long one process snapshot serves every client"},
	{"ROY_PROCWATCH_BUS", "bus", "system", "D-Bus to publish on: system, session, none, or a bus address"},
	{"ROY_PROCWATCH_LOG_LEVEL", "log-level", "info", "debug, info, warn or error"},
	{"ROY_PROCWATCH_AUDIT_FILE", "audit-file", "", "append one JSON line per action (allowed or refused) to this file, fsynced; under systemd the default is $STATE_DIRECTORY/audit.log"},
	{"ROY_PROCWATCH_REQUIRE_SOCKET", "require-socket", "false", "refuse to start without a systemd-passed socket (set by the packaged unit)"},
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

// readEnvFile parses KEY=VALUE lines (comments, "export ", quotes) and sets
// the ROY_PROCWATCH_* ones that are not set yet.
func readEnvFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
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
		if !strings.HasPrefix(k, "ROY_PROCWATCH_") {
			continue
		}
		if _, set := os.LookupEnv(k); !set {
			os.Setenv(k, v)
		}
	}
	return sc.Err()
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

// loadConfig reads .env and /etc/default (lowest precedence), then the
// environment, then flags.
func loadConfig(args []string, stderr io.Writer, activated bool) (*config, error) {
	if !activated {
		// Standalone development: .env in the working directory.
		if err := readEnvFile(".env"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("cannot read .env: %w", err)
		}
	}
	if err := readEnvFile(defaultsFile); err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission) {
		return nil, fmt.Errorf("cannot read %s: %w", defaultsFile, err)
	}
	env := func(k string) string {
		for _, s := range settings {
			if s.env == k {
				if v, ok := os.LookupEnv(k); ok && v != "" {
					return v
				}
				return s.def
			}
		}
		return os.Getenv(k)
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
		Host:         get("ROY_PROCWATCH_HOST"),
		AllowedHosts: splitList(get("ROY_PROCWATCH_ALLOWED_HOSTS")),
		Signals:      splitList(get("ROY_PROCWATCH_SIGNALS")),
		Bus:          get("ROY_PROCWATCH_BUS"),
		LogLevel:     strings.ToLower(get("ROY_PROCWATCH_LOG_LEVEL")),
		TokenFile:    get("ROY_PROCWATCH_TOKEN_FILE"),
		AuditFile:    get("ROY_PROCWATCH_AUDIT_FILE"),
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
	if t := strings.TrimSpace(os.Getenv("ROY_PROCWATCH_TOKEN")); t != "" {
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
also reads ./.env). Every setting is a flag or an environment variable;
/etc/default/roy-procwatch may set the variables too.

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

Signals: SIGTERM/SIGINT stop gracefully; SIGHUP reloads the token.
`)
}
