package dbusiface

import (
	"github.com/godbus/dbus/v5"

	"github.com/roy/roy-procwatch/daemon/procs"
)

// Dict is a D-Bus a{sv}.
type Dict = map[string]dbus.Variant

// The D-Bus types of the dict values are fixed here, with explicit Go
// types: godbus would encode a Go int as INT32 silently (and panic on
// float32), so no int or float32 reaches a Variant.

func v(x any) dbus.Variant { return dbus.MakeVariant(x) }

// u32 converts a non-negative int that is known to fit (PIDs, counts) to
// uint32; anything out of range becomes 0.
func u32(n int) uint32 {
	if n < 0 || uint64(n) > 0xFFFFFFFF {
		return 0
	}
	return uint32(n)
}

// i32 clamps n to the int32 range.
func i32(n int) int32 {
	switch {
	case n > 0x7FFFFFFF:
		return 0x7FFFFFFF
	case n < -0x80000000:
		return -0x80000000
	}
	return int32(n)
}

// processDict is one ListProcesses entry: the HTTP JSON keys.
func processDict(p *procs.Process) Dict {
	ports := make([]Dict, 0, len(p.Ports))
	for i := range p.Ports {
		ports = append(ports, portDict(&p.Ports[i]))
	}
	d := Dict{
		"pid":              v(u32(p.PID)),
		"ppid":             v(u32(p.PPID)),
		"name":             v(clean(p.Name)),
		"exe":              v(clean(p.Exe)),
		"username":         v(clean(p.Username)),
		"uid":              v(p.UID),
		"status":           v(clean(p.Status)),
		"create_time":      v(p.CreateTime),
		"create_time_iso":  v(clean(p.CreateTimeISO)),
		"cpu_percent":      v(p.CPUPercent),
		"memory_rss":       v(p.MemoryRSS),
		"nice":             v(i32(p.Nice)),
		"num_threads":      v(i32(p.Threads)),
		"cmdline":          v(cleanAll(p.Cmdline)),
		"ports":            v(ports),
		"open_files_count": v(u32(p.OpenFilesCount)),
		"memory_percent":   v(p.MemoryPercent),
		"cpu_time":         v(p.CPUTime),
		"memory_vms":       v(p.MemoryVMS),
		"unit":             v(clean(p.Unit)),
	}
	// Like HTTP's omitempty: present only for a process the core refuses
	// to act on whoever asks.
	if p.Protected != "" {
		d["protected"] = v(clean(p.Protected))
	}
	return d
}

// portDict is one socket. remote is "" when the socket is not connected
// (JSON null on HTTP: D-Bus has no null).
func portDict(p *procs.Port) Dict {
	remote := ""
	if p.Remote != nil {
		remote = *p.Remote
	}
	lp := p.LocalPort
	if lp < 0 || lp > 0xFFFF {
		lp = 0
	}
	return Dict{
		"local":      v(clean(p.Local)),
		"remote":     v(clean(remote)),
		"status":     v(clean(p.Status)),
		"family":     v(clean(p.Family)),
		"type":       v(clean(p.Type)),
		"local_port": v(uint16(lp)),
	}
}

// detailDict is the GetProcess reply: the list keys plus the detail.
// environ is present only when the core returned it (the caller may see
// it).
func detailDict(d *procs.Detail) Dict {
	out := processDict(&d.Process)
	out["cwd"] = v(clean(d.Cwd))
	out["cgroup"] = v(clean(d.Cgroup))
	out["open_files"] = v(cleanAll(d.OpenFiles))
	if d.Environ != nil {
		out["environ"] = v(cleanAll(d.Environ))
	}
	out["uids"] = v([]uint32{d.UIDs[0], d.UIDs[1], d.UIDs[2]})
	out["gids"] = v([]uint32{d.GIDs[0], d.GIDs[1], d.GIDs[2]})
	out["memory"] = v(map[string]uint64{
		"rss": d.Memory.RSS, "pss": d.Memory.PSS, "swap": d.Memory.Swap,
		"anonymous": d.Memory.Anon, "file": d.Memory.File,
		"private": d.Memory.Private, "shared": d.Memory.Shared,
	})
	maps := make([]Dict, 0, len(d.TopMappings))
	for _, m := range d.TopMappings {
		maps = append(maps, Dict{
			"path": v(clean(m.Path)), "kind": v(clean(m.Kind)),
			"rss": v(m.RSS), "pss": v(m.PSS), "swap": v(m.Swap),
		})
	}
	out["top_mappings"] = v(maps)
	out["parents"] = v(refDicts(d.Parents))
	out["children"] = v(refDicts(d.Children))
	if d.Extras != nil {
		out["extras"] = v(extrasDict(d.Extras))
	}
	return out
}

func refDicts(refs []procs.ProcessRef) []Dict {
	out := make([]Dict, 0, len(refs))
	for _, r := range refs {
		out = append(out, Dict{"pid": v(u32(r.PID)), "name": v(clean(r.Name))})
	}
	return out
}
