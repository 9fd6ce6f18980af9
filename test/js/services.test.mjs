// Unit tests of the Services view's pure helpers (httpui/static/services.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { fmtBytes, fmtCPU, portsText, matches } from "../../httpui/static/services-logic.mjs";

test("fmtBytes and fmtCPU: null is a dash", () => {
  assert.equal(fmtBytes(null), "—");
  assert.equal(fmtBytes(512), "512 B");
  assert.equal(fmtBytes(3 * 1024 * 1024), "3.0 MiB");
  assert.equal(fmtCPU(undefined), "—");
  assert.equal(fmtCPU(1.5e9), "1.50 s");
  assert.equal(fmtCPU(125e9), "2 min 5 s");
  assert.equal(fmtCPU(3 * 3600e9 + 60e9), "3 h 1 min");
});

test("portsText: listeners first as :PORT, no duplicates", () => {
  const ports = [
    { type: "tcp", local: "10.0.0.1:5555", remote: "10.0.0.2:443", status: "ESTABLISHED", local_port: 5555 },
    { type: "tcp", local: "0.0.0.0:80", remote: null, status: "LISTEN", local_port: 80 },
    { type: "tcp", local: "[::]:80", remote: null, status: "LISTEN", local_port: 80 },
  ];
  assert.deepEqual(portsText(ports), ["tcp :80", "tcp 10.0.0.1:5555→10.0.0.2:443"]);
  assert.deepEqual(portsText(null), []);
});

test("matches: words on name and description, unit: on the name only", () => {
  const u = { name: "nginx.service", description: "A high performance web server" };
  assert.ok(matches(u, ""));
  assert.ok(matches(u, "web NGINX"));
  assert.ok(matches(u, "unit:nginx"));
  assert.ok(!matches(u, "unit:web"));
  assert.ok(!matches(u, "postgres"));
});
