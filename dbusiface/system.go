package dbusiface

import (
	"context"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/roy/roy-procwatch/daemon/host"
	"github.com/roy/roy-procwatch/daemon/procs"
)

// GetSystem returns the host figures, with the keys of GET /api/system.
// Read-only: any caller may ask, as for ListProcesses.
func (m *manager) GetSystem(sender dbus.Sender, msg dbus.Message) (out Dict, derr *dbus.Error) {
	derr = m.call(sender, msg, m.s.callTimeout, func(ctx context.Context, c procs.Caller) *dbus.Error {
		sys, err := m.s.svc.System(ctx)
		if err != nil {
			return toDBusError(err)
		}
		out = systemDict(&sys)
		return nil
	})
	if derr != nil {
		return nil, derr
	}
	return out, nil
}

// systemDict maps host.System to a{sv}: integers as t (uint64) or i,
// rates and percents as d, lists of records as aa{sv}.
func systemDict(s *host.System) Dict {
	cores := make([]Dict, 0, len(s.CPU.PerCore))
	for _, c := range s.CPU.PerCore {
		cores = append(cores, Dict{
			"percent": v(c.Percent), "user": v(c.User), "system": v(c.System),
			"iowait": v(c.IOWait), "steal": v(c.Steal),
		})
	}
	nets := make([]Dict, 0, len(s.Net))
	for _, n := range s.Net {
		nets = append(nets, Dict{
			"iface": v(clean(n.Iface)), "rx_bps": v(n.RxBps), "tx_bps": v(n.TxBps),
			"rx_bytes": v(n.RxBytes), "tx_bytes": v(n.TxBytes),
		})
	}
	disks := make([]Dict, 0, len(s.Disks))
	for _, d := range s.Disks {
		disks = append(disks, Dict{
			"device": v(clean(d.Device)), "read_bps": v(d.ReadBps), "write_bps": v(d.WriteBps),
			"read_bytes": v(d.ReadBytes), "write_bytes": v(d.WriteBytes), "busy_percent": v(d.BusyPercent),
		})
	}
	fss := make([]Dict, 0, len(s.Filesystems))
	for _, f := range s.Filesystems {
		fss = append(fss, Dict{
			"device": v(clean(f.Device)), "mountpoint": v(clean(f.Mountpoint)), "fstype": v(clean(f.Fstype)),
			"total": v(f.Total), "used": v(f.Used), "free": v(f.Free), "percent": v(f.Percent),
		})
	}
	pressure := Dict{}
	for res, p := range s.Pressure {
		d := Dict{"some": v(pressureDict(p.Some))}
		if p.Full != nil {
			d["full"] = v(pressureDict(*p.Full))
		}
		pressure[res] = v(d)
	}
	return Dict{
		"time":      v(s.Time.Format(time.RFC3339Nano)),
		"hostname":  v(clean(s.Hostname)),
		"os":        v(clean(s.OS)),
		"kernel":    v(clean(s.Kernel)),
		"uptime_s":  v(s.UptimeS),
		"boot_time": v(s.BootTime),
		"cpu": v(Dict{
			"percent": v(s.CPU.Percent), "user": v(s.CPU.User), "system": v(s.CPU.System),
			"iowait": v(s.CPU.IOWait), "steal": v(s.CPU.Steal), "per_core": v(cores),
		}),
		"load": v([]float64{s.Load[0], s.Load[1], s.Load[2]}),
		"memory": v(Dict{
			"total": v(s.Memory.Total), "used": v(s.Memory.Used), "available": v(s.Memory.Available),
			"free": v(s.Memory.Free), "buffers": v(s.Memory.Buffers), "cached": v(s.Memory.Cached),
			"percent": v(s.Memory.Percent),
		}),
		"swap": v(Dict{
			"total": v(s.Swap.Total), "used": v(s.Swap.Used), "free": v(s.Swap.Free), "percent": v(s.Swap.Percent),
		}),
		"tasks": v(Dict{
			"total": v(u32(s.Tasks.Total)), "running": v(u32(s.Tasks.Running)),
			"blocked": v(u32(s.Tasks.Blocked)), "threads": v(u32(s.Tasks.Threads)),
		}),
		"net":         v(nets),
		"disks":       v(disks),
		"filesystems": v(fss),
		"pressure":    v(pressure),
	}
}

func pressureDict(p host.PressureLine) Dict {
	return Dict{"avg10": v(p.Avg10), "avg60": v(p.Avg60), "avg300": v(p.Avg300), "total_us": v(p.Total)}
}

// extrasDict is the detail's "extras" (GetProcess), present only when the
// caller may inspect the process.
func extrasDict(e *host.ProcessExtras) Dict {
	lims := make([]Dict, 0, len(e.Limits))
	for _, l := range e.Limits {
		d := Dict{"resource": v(clean(l.Resource)), "soft": v(l.Soft), "hard": v(l.Hard)}
		if l.Used != nil { // absent when not measured (JSON null on HTTP)
			d["used"] = v(*l.Used)
		}
		lims = append(lims, d)
	}
	return Dict{
		"io": v(Dict{
			"read_bytes": v(e.IO.ReadBytes), "write_bytes": v(e.IO.WriteBytes),
			"read_bps": v(e.IO.ReadBps), "write_bps": v(e.IO.WriteBps),
		}),
		"ctx_switches":  v(Dict{"voluntary": v(e.CtxSwitches.Voluntary), "involuntary": v(e.CtxSwitches.Involuntary)}),
		"cpu_times":     v(Dict{"user": v(e.CPUTimes.User), "system": v(e.CPUTimes.System)}),
		"limits":        v(lims),
		"oom_score":     v(i32(e.OOMScore)),
		"oom_score_adj": v(i32(e.OOMScoreAdj)),
	}
}
