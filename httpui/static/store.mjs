// The page's shared state and a tiny event hub, so that modules talk
// through events ("data", "render", "detail") instead of importing each
// other in circles. No DOM here.

export const state = {
  map: new Map(),     // pid -> process
  seq: null,          // last SSE sequence number
  prefs: null,        // validated preferences (prefs.mjs)
  // readOnly: the token is the read-only one (GET /api/meta says so).
  meta: { signals: [], serverSortKeys: null, niceMin: -20, niceMax: 19, readOnly: false },
  rows: [],           // the rows on screen, as the current view made them
  selected: null,     // key of the selected row (the view's key)
  selectedPid: null,  // PID of the selected row
  collapsed: new Set(), // tree view: collapsed PIDs
  mode: "off",        // off | sse | poll | reconnecting
  updates: [],        // times (ms) of the last updates, for the real cadence
  retryIn: 0,         // reconnecting: seconds until the next attempt
  polling: false,     // reconnecting: polling meanwhile
  loaded: false,      // a list has been received
  stamp: null,        // time of the last data
  detailPid: null,    // PID shown in the detail dialog
};

const handlers = new Map();

// on registers fn for the event name.
export function on(name, fn) {
  if (!handlers.has(name)) handlers.set(name, []);
  handlers.get(name).push(fn);
}

// emit calls the handlers of name, in registration order.
export function emit(name, ...args) {
  for (const fn of handlers.get(name) || []) fn(...args);
}
