// Unit tests of the host overview's pure helpers (httpui/static/overview.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as O from "../../httpui/static/overview.mjs";

test("fmtBytes, fmtRate, fmtPct, fmtUptime", () => {
  assert.equal(O.fmtBytes(0), "0 B");
  assert.equal(O.fmtBytes(1536), "1.5 KiB");
  assert.equal(O.fmtBytes(5 * 1024 ** 3), "5.0 GiB");
  assert.equal(O.fmtBytes(300 * 1024 ** 2), "300 MiB");
  assert.equal(O.fmtRate(2048), "2.0 KiB/s");
  assert.equal(O.fmtPct(12.345), "12.3%");
  assert.equal(O.fmtUptime(59), "0m");
  assert.equal(O.fmtUptime(3 * 3600 + 120), "3h 2m");
  assert.equal(O.fmtUptime(2 * 86400 + 3600 + 60), "2d 1h 1m");
  assert.equal(O.fmtUptime("bogus"), "0m");
});

test("sparkPath scales to max, clamps, handles one point and none", () => {
  assert.equal(O.sparkPath([], 100, 10, 100), "");
  assert.equal(O.sparkPath([0, 50, 100], 100, 10, 100), "M0.0 10.0L50.0 5.0L100.0 0.0");
  assert.equal(O.sparkPath([200, -5], 10, 10, 100), "M0.0 0.0L10.0 10.0");
  assert.equal(O.sparkPath([5], 10, 10, 0), "M10.0 0.0");
  // Auto scale: the largest value fills the height; all zeros stay flat.
  assert.equal(O.sparkPath([1, 4], 10, 8, 0), "M0.0 6.0L10.0 0.0");
  assert.equal(O.sparkPath([0, 0], 10, 8, 0), "M0.0 8.0L10.0 8.0");
  assert.equal(O.areaPath([0, 100], 10, 10, 100), "M0.0 10.0L10.0 0.0L10.0 10L0.0 10Z");
});

test("limitRow: open files 900/1024 is near the limit, unlimited is not", () => {
  const r = O.limitRow({ resource: "nofile", soft: 1024, hard: 524288, used: 900 });
  assert.equal(r.label, "open files");
  assert.equal(r.text, "900/1024");
  assert.equal(r.near, true);
  assert.equal(O.limitRow({ resource: "nofile", soft: 1024, hard: 4096, used: 100 }).near, false);
  const u = O.limitRow({ resource: "as", soft: -1, hard: -1, used: 3 * 1024 ** 2 });
  assert.equal(u.text, "3.0 MiB/unlimited");
  assert.equal(u.hard, "unlimited");
  assert.equal(u.near, false);
  assert.equal(O.limitRow({ resource: "rlimit99", soft: 1, hard: 1, used: 0 }).label, "rlimit99");
  // Use not measured (null): the soft limit alone, never "near".
  const np = O.limitRow({ resource: "nproc", soft: 10, hard: 10, used: null });
  assert.equal(np.text, "10");
  assert.equal(np.near, false);
});
