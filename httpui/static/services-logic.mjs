// Pure helpers of the Services view (no DOM): formatting and the text
// filter. Imported by services.mjs and by node --test.

export const fmtBytes = (n) => {
  if (n == null) return "—";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + " " + u[i];
};

export const fmtCPU = (ns) => {
  if (ns == null) return "—";
  const s = ns / 1e9;
  if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + " min " + Math.round(s % 60) + " s";
  return Math.floor(m / 60) + " h " + (m % 60) + " min";
};

// portsText summarises a unit's sockets: listeners first, as proto :port.
export function portsText(ports) {
  const seen = new Set();
  const out = [];
  for (const p of (ports || []).slice().sort((a, b) => (a.status === "LISTEN" ? 0 : 1) - (b.status === "LISTEN" ? 0 : 1) || a.local_port - b.local_port)) {
    const t = p.status === "LISTEN" ? p.type + " :" + p.local_port : p.type + " " + p.local + (p.remote ? "→" + p.remote : "");
    if (!seen.has(t)) { seen.add(t); out.push(t); }
  }
  return out;
}

// matches applies the text filter: words match name or description;
// "unit:NAME" matches the unit name only.
export function matches(u, q) {
  for (const w of q.toLowerCase().split(/\s+/).filter(Boolean)) {
    if (w.startsWith("unit:")) { if (!u.name.toLowerCase().includes(w.slice(5))) return false; continue; }
    if (!(u.name + " " + (u.description || "")).toLowerCase().includes(w)) return false;
  }
  return true;
}

