package main

import (
	"io"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"10M", 10 << 20}, {"10MiB", 10 << 20}, {"10MB", 10 << 20}, {"512k", 512 << 10},
		{"1G", 1 << 30}, {"4096", 4096}, {" 2M ", 2 << 20}, {"0", -1},
	} {
		if got, err := parseSize(tc.in); err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "M", "-1", "1.5M", "10T", "ten", "99999999999G"} {
		if got, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", bad, got)
		}
	}
}

// TestAuditMaxSizeSetting: the setting reaches the config, and a bad value
// is a clear startup error.
func TestAuditMaxSizeSetting(t *testing.T) {
	t.Setenv("ROY_PROCWATCH_AUDIT_MAX_SIZE", "")
	c, err := loadConfig(nil, io.Discard, false)
	if err != nil || c.AuditMaxSize != 10<<20 {
		t.Fatalf("default: %v %+v", err, c)
	}
	if c, err := loadConfig([]string{"--audit-max-size=1M"}, io.Discard, false); err != nil || c.AuditMaxSize != 1<<20 {
		t.Errorf("1M: %v %+v", err, c)
	}
	_, err = loadConfig([]string{"--audit-max-size=lots"}, io.Discard, false)
	if err == nil || !strings.Contains(err.Error(), "ROY_PROCWATCH_AUDIT_MAX_SIZE") {
		t.Errorf("a bad size: %v, want an error naming the setting", err)
	}
}
