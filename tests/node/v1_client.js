// An independent OpenHands V1 client (Node's `ws` 8.x), for the reference server's V1 tests.
// Usage: node v1_client.js <mode> <ws_base> <conversation_id> <key> [arg]
//   turn      events socket, key in the X-Session-API-Key header: the snapshot, then send the message [arg]
//             and read until the end-of-turn full_state (execution_status not running)
//   session   session socket, key in the query, after_seq=[arg]: sync, durables, the transient snapshot
//   refuse    the key [arg] in the query: prints the HTTP status of the refused upgrade
//   firstframe  no key in the URL; first frame {"type":"auth","session_api_key":[arg]}: prints what follows
// Prints one JSON line per frame ({"kind":"frame","t":ms,"data":{...}}) and one per happening
// ({"kind":"open"|"close"|"http"|"error"|"done",...}); exits 0 when the mode's goal was reached, 2 on timeout.
"use strict";
const WebSocket = require("ws");

const [mode, base, cid, key, arg, timeoutMs = "10000"] = process.argv.slice(2);
const started = process.hrtime.bigint();
const now = () => Number(process.hrtime.bigint() - started) / 1e6;
const out = (obj) => process.stdout.write(JSON.stringify({ ...obj, t: now() }) + "\n");

const kind = mode === "session" ? "session" : "events";
const query = new URLSearchParams();
const headers = {};
if (mode === "turn") headers["X-Session-API-Key"] = key;
if (mode === "session") {
  query.set("session_api_key", key);
  if (arg !== undefined) query.set("after_seq", arg);
}
if (mode === "refuse") query.set("session_api_key", arg);
const qs = query.toString();
const ws = new WebSocket(`${base}/sockets/${kind}/${cid}${qs ? "?" + qs : ""}`, { headers });

const timer = setTimeout(() => {
  out({ kind: "timeout" });
  process.exit(2);
}, Number(timeoutMs));
const finish = (code) => {
  clearTimeout(timer);
  out({ kind: "done" });
  ws.terminate();
  process.exit(code);
};

ws.on("unexpected-response", (_req, res) => {
  out({ kind: "http", status: res.statusCode });
  finish(mode === "refuse" ? 0 : 1);
});
ws.on("error", (err) => out({ kind: "error", message: String(err.message) }));
ws.on("open", () => {
  out({ kind: "open" });
  if (mode === "firstframe") ws.send(JSON.stringify({ type: "auth", session_api_key: arg }));
});
ws.on("close", (code, reason) => {
  out({ kind: "close", code, reason: reason.toString() });
  finish(mode === "firstframe" ? 0 : 1);
});

let sent = false;
let sawMessage = false;
ws.on("message", (raw) => {
  const data = JSON.parse(raw.toString());
  out({ kind: "frame", data });
  const event = data.event || data;
  if (mode === "turn") {
    if (!sent && event.key === "full_state") {
      sent = true;
      ws.send(JSON.stringify({ role: "user", content: [{ type: "text", text: arg }] }));
      return;
    }
    if (event.kind === "MessageEvent") sawMessage = true;
    if (sawMessage && event.key === "full_state" && event.value.execution_status !== "running") finish(0);
  } else if (mode === "session") {
    if (data.type === "transient") finish(0);
  } else if (mode === "firstframe") {
    finish(0);
  }
});
