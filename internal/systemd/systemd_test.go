package systemd

import (
	"slices"
	"testing"

	"github.com/roy/roy-procwatch/internal/relaunch"
)

// TestTransientProps (issue 8 items 2 and 3): the argv goes to systemd
// verbatim (ExecStartEx with no-env-expand, or every $ doubled for
// ExecStart), through the argv[0] path, with Type=exec, nice, every limit
// (hard before soft), oom_score_adj and the slice.
func TestTransientProps(t *testing.T) {
	argv := []string{"sh", "-c", `rm -rf "${WORKDIR}/cache" $HOME $$ %n \ "q" 'q'` + "\nx"}
	spec := RelaunchSpec{OldPID: 42, Exe: "/usr/bin/dash", Path: "/usr/bin/sh", Argv: argv, UID: 1000, GID: 1000,
		Nice: 19, OOMScoreAdj: 200, Slice: "user-65534.slice",
		Limits: []relaunch.Limit{{Name: "NPROC", Cur: 40, Max: 50}, {Name: "CPU", Cur: 100, Max: 100}}}
	props := map[string]any{}
	var names []string
	for _, p := range transientProps(spec, "ExecStartEx") {
		props[p.Name] = p.Value.Value()
		names = append(names, p.Name)
	}
	ex, ok := props["ExecStartEx"].([]execStartEx)
	if !ok || len(ex) != 1 || ex[0].Path != "/usr/bin/sh" || !slices.Equal(ex[0].Args, argv) || !slices.Equal(ex[0].Flags, []string{"no-env-expand"}) {
		t.Errorf("ExecStartEx = %#v", props["ExecStartEx"])
	}
	for k, want := range map[string]any{"Type": "exec", "Nice": int32(19), "OOMScoreAdjust": int32(200), "Slice": "user-65534.slice",
		"LimitNPROC": uint64(50), "LimitNPROCSoft": uint64(40), "LimitCPU": uint64(100), "User": "1000"} {
		if props[k] != want {
			t.Errorf("%s = %#v, want %#v", k, props[k], want)
		}
	}
	if slices.Index(names, "LimitNPROC") > slices.Index(names, "LimitNPROCSoft") {
		t.Errorf("soft limit set before the hard one: %q", names)
	}
	if _, ok := props["CollectMode"]; ok {
		t.Error("CollectMode set: a failed start would be unloaded before its result is read")
	}

	old := transientProps(spec, "ExecStart")
	for _, p := range old {
		if p.Name == "ExecStart" {
			es := p.Value.Value().([]execStart)
			want := []string{"sh", "-c", `rm -rf "$${WORKDIR}/cache" $$HOME $$$$ %n \ "q" 'q'` + "\nx"}
			if !slices.Equal(es[0].Args, want) {
				t.Errorf("ExecStart args %q, want %q", es[0].Args, want)
			}
		}
	}
}
