package testproc

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// JSONLines reads the JSON lines (an audit file, a JSON log) that path
// holds from byte offset off on, and returns them with the offset of the
// end, for the next call. A line that is not JSON fails the test.
func JSONLines(t testing.TB, path string, off int) (recs []map[string]any, end int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(strings.TrimSpace(string(b[min(off, len(b)):])), "\n") {
		if l == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("%s: line %d after offset %d is not JSON: %v: %s", path, i+1, off, err, l)
		}
		recs = append(recs, rec)
	}
	return recs, len(b)
}
