// Wires the host overview (overview.mjs) into the page: the header above
// the table, refreshed with the list (each "data" event: Auto or Refresh),
// and the detail's "Resources" section.
import { on, state } from "./store.mjs";
import { $ } from "./dom.mjs";
import { api } from "./api.mjs";
import { registerDetailSection } from "./detail.mjs";
import { initOverview, resourcesContent } from "./overview.mjs";

let last = 0;
initOverview($("overview"), {
  api,
  // At most one refresh a second, however often the list changes.
  onTick: (fn) => on("data", () => {
    const now = Date.now();
    if (now - last < 900) return;
    last = now;
    fn();
  }),
});

// The detail's graphs follow the list's refreshes while it stays open
// (only the latest detail's: reopening replaces it).
let detailTick = null;
on("data", () => { if (detailTick && state.detailPid !== null) detailTick(); });

registerDetailSection({
  id: "resources", title: "Resources", order: 15,
  render: (p) => resourcesContent(p, { api, onTick: (fn) => { detailTick = fn; } }),
});
