package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// readTokenFile is the packaged read-only token (postinst creates it).
const readTokenFile = "/etc/roy-procwatch/read-token"

// loadReadToken finds the read-only token: $CREDENTIALS_DIRECTORY/read-token
// (LoadCredential=), then ROY_PROCWATCH_READ_TOKEN, then the read-token
// file (an unreadable one is skipped standalone, like the admin token's).
// None (or an empty one) is fine: the daemon then has no read-only
// token; nothing is generated, even standalone (set one to scrape /metrics
// or share a read-only UI). It must differ from the admin token.
func (c *config) loadReadToken(standalone bool) error {
	c.readToken, c.readTokenSource = "", "none"
	try := func(path, source string) (bool, error) {
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) && standalone {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("cannot read the read-only token from %s: %w", source, err)
		}
		// An empty file is "no read-only token" (how a packaged install
		// disables it: the unit's LoadCredential= needs the file).
		c.readToken, c.readTokenSource = strings.TrimSpace(string(b)), source
		if c.readToken == "" {
			c.readTokenSource = source + " (empty: disabled)"
		}
		return true, nil
	}
	var err error
	found := false
	if dir := os.Getenv("CREDENTIALS_DIRECTORY"); dir != "" {
		found, err = try(filepath.Join(dir, "read-token"), "credential read-token")
	}
	if !found && err == nil {
		v, _ := c.lookup("ROY_PROCWATCH_READ_TOKEN")
		if t := strings.TrimSpace(v); t != "" {
			c.readToken, c.readTokenSource, found = t, "ROY_PROCWATCH_READ_TOKEN", true
		}
	}
	if !found && err == nil && c.ReadTokenFile != "" {
		found, err = try(c.ReadTokenFile, c.ReadTokenFile)
	}
	switch {
	case err != nil:
	case !found, c.readToken == "":
		return nil
	case len(c.readToken) > 256:
		err = fmt.Errorf("the read-only token from %s is longer than 256 bytes", c.readTokenSource)
	case c.readToken == c.token:
		err = fmt.Errorf("the read-only token from %s is the admin token: it would not be read-only", c.readTokenSource)
	}
	if err != nil {
		c.readToken, c.readTokenSource = "", "none"
	}
	return err
}
