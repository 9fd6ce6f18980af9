// Wires the host overview (overview.mjs) into the page: the header above
// the table, refreshed with the list (each "data" event: Auto or Refresh),
// and the detail's "Resources" section.
import { on } from "./store.mjs";
import { $ } from "./dom.mjs";
import { api } from "./api.mjs";
import { registerDetailSection } from "./detail.mjs";
import { initOverview, resourcesView } from "./overview.mjs";

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

// The detail's Resources: one view per process shown, updated in place
// when the detail refreshes (the same node, so its graphs do not flash).
let res = null;
registerDetailSection({
  id: "resources", title: "Resources", order: 15,
  render: (p) => {
    const key = p.pid + "/" + p.create_time;
    if (!res || res.key !== key) res = { key, view: resourcesView({ api }) };
    res.view.update(p);
    return res.view.node;
  },
});
