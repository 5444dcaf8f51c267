// A minimal OpenHands V1 agent server on another stack (Node http + ws 8.x), for loadtest's V1 client tests,
// so one bug cannot hide in both our client and our reference server. Written from the protocol notes
// (openhands-v1.md), sharing no code with loadtest/server/v1.
//
// Usage: node v1_server.js [--port 0] [--key KEY] [--delay-ms 5] [--socket-cap 48] [--max-runs 10]
//                          [--auth-timeout-ms 10000]
// Prints "listening <port>" once it accepts connections. Loopback only.
//
// REST (X-Session-API-Key, else 401): POST /api/conversations (201; 200 for a known conversation_id; 422 without
// workspace; 429 at the run cap), GET|DELETE /api/conversations/{id}, POST …/{id}/events (Message; run defaults
// to false), POST …/{id}/run (200, 409 running, 429 at the cap), GET …/{id}/events/search (limit, page_id),
// GET …/{id}/events/count; /health, /alive, /ready, /server_info without a key.
// Sockets /sockets/events/{id} (resend_mode=all|since, after_timestamp) and /sockets/session/{id}?after_seq=N:
// key by query (wins), header (wrong: HTTP 403) or first frame (wrong or silent: close 4001); unknown
// conversation 4004; more than --socket-cap sockets: 1013. One turn: MessageEvent, last_user_message_id,
// running, stats, ActionEvent finish, ObservationEvent finish, finished, then a full_state snapshot;
// consecutive agent-side events --delay-ms apart. after_timestamp is compared as a string, so send the server's
// own zone-less timestamp (inclusive).
"use strict";

const http = require("http");
const crypto = require("crypto");
const { WebSocketServer } = require("ws");

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const port = Number(option("--port", "0"));
const key = option("--key", null);
const delayMs = Number(option("--delay-ms", "5"));
const socketCap = Number(option("--socket-cap", "48"));
const maxRuns = Number(option("--max-runs", "10"));
const authTimeoutMs = Number(option("--auth-timeout-ms", "10000"));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const conversations = new Map(); // id -> {id, events: [], status, sockets: Set, pending: [], llmCalls, leaf, lastUser}
let running = 0;

// Local time, ISO 8601 with microseconds and no zone, as the Python server prints datetime.now(); never decreasing.
function stamp() {
  const micros = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  const d = new Date(Math.floor(micros / 1000));
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:` +
    `${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(micros % 1000000, 6)}`;
}

function fullState(conv) {
  return { id: conv.id, execution_status: conv.status, last_user_message_id: conv.lastUser, stats: { usage_to_metrics: {} } };
}

function info(conv) {
  return { id: conv.id, workspace: conv.workspace, execution_status: conv.status, title: null, agent: conv.agent,
    created_at: conv.createdAt, stats: { usage_to_metrics: {} } };
}

function send(conv, event, stored) {
  let seq = null;
  if (stored) {
    seq = conv.events.length;
    conv.events.push(event);
    if (event.kind !== "ConversationStateUpdateEvent") conv.leaf = event.id;
  }
  const text = JSON.stringify(event);
  for (const sock of conv.sockets) {
    if (sock.kind === "events") sock.ws.send(text);
    else sock.ws.send(stored ? `{"type":"durable","seq":${seq},"event":${text}}` : `{"type":"transient","event":${text}}`);
  }
  return event;
}

function state(conv, keyName, value, parent) {
  const event = { id: crypto.randomUUID(), timestamp: stamp(), source: "environment" };
  if (parent) event.parent_id = parent;
  Object.assign(event, { key: keyName, value, kind: "ConversationStateUpdateEvent" });
  return event;
}

function message(conv, text) {
  if (conv.status === "finished") {
    conv.status = "idle";
    send(conv, state(conv, "execution_status", "idle", conv.leaf), true);
  }
  const msg = send(conv, { id: crypto.randomUUID(), timestamp: stamp(), source: "user", parent_id: conv.leaf,
    llm_message: { role: "user", content: [{ type: "text", text }] }, activated_skills: [], extended_content: [],
    kind: "MessageEvent" }, true);
  conv.lastUser = msg.id;
  send(conv, state(conv, "last_user_message_id", msg.id, msg.id), true);
  conv.pending.push(text);
}

function run(conv) {
  if (conv.running) return "joined";
  if (running >= maxRuns) return "run_limit";
  conv.running = true;
  running += 1;
  const steps = [];
  const later = (fn) => steps.push(fn);
  later(() => { conv.status = "running"; send(conv, state(conv, "execution_status", "running", conv.leaf), true); });
  const turn = () => {
    conv.pending.shift();
    conv.llmCalls += 1;
    const callId = `call_node${conv.llmCalls}`;
    const actionId = crypto.randomUUID();
    later(() => {
      send(conv, state(conv, "stats", { usage_to_metrics: {} }, conv.leaf), true);
      send(conv, { id: actionId, timestamp: stamp(), source: "agent", parent_id: conv.leaf, thought: [],
        action: { message: "done", kind: "FinishAction" }, tool_name: "finish", tool_call_id: callId,
        tool_call: { id: callId, name: "finish", arguments: '{"message": "done"}', origin: "completion" },
        llm_response_id: `chatcmpl-node${conv.llmCalls}`, security_risk: "UNKNOWN", summary: "finish", kind: "ActionEvent" }, true);
    });
    later(() => send(conv, { id: crypto.randomUUID(), timestamp: stamp(), source: "environment", parent_id: actionId,
      tool_name: "finish", tool_call_id: callId, observation: { content: [{ type: "text", text: "done" }], is_error: false,
      kind: "FinishObservation" }, action_id: actionId, extended_content: [], kind: "ObservationEvent" }, true));
    later(() => {
      conv.status = "finished";
      send(conv, state(conv, "execution_status", "finished", conv.leaf), true);
      if (conv.pending.length) {
        conv.status = "running";
        send(conv, state(conv, "execution_status", "running", conv.leaf), true);
        turn();
      } else {
        send(conv, state(conv, "full_state", fullState(conv), null), false);
        conv.running = false;
        running -= 1;
      }
    });
  };
  turn();
  const tick = () => {
    const step = steps.shift();
    if (!step || !conversations.has(conv.id)) return;
    step();
    if (steps.length) setTimeout(tick, delayMs);
  };
  setTimeout(tick, delayMs);
  return "started";
}

function reply(res, status, body) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      try { resolve(JSON.parse(Buffer.concat(chunks).toString() || "null")); } catch { resolve(undefined); }
    });
  });
}

function messageText(body) {
  if (!body || typeof body !== "object" || !body.role) return null;
  if (typeof body.content === "string") return body.content;
  return (body.content || []).map((p) => p.text || "").join("\n");
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://localhost");
  const path = url.pathname;
  if (["/health", "/ready"].includes(path)) return reply(res, 200, '"OK"');
  if (path === "/alive") return reply(res, 200, { status: "ok" });
  if (path === "/server_info") return reply(res, 200, { version: "node-ws-peer", sdk_version: "node-ws-peer" });
  if (!path.startsWith("/api/conversations")) return reply(res, 404, { detail: "Not Found" });
  if (key !== null && req.headers["x-session-api-key"] !== key) return reply(res, 401, { detail: "Unauthorized" });
  const parts = path.split("/").slice(3); // [id, sub, sub2]
  if (parts.length === 0 && req.method === "POST") {
    const body = await readBody(req);
    if (!body || !body.workspace) return reply(res, 422, { detail: [{ type: "missing", loc: ["body", "workspace"], msg: "Field required" }] });
    if (body.conversation_id && conversations.has(body.conversation_id)) return reply(res, 200, info(conversations.get(body.conversation_id)));
    if (running >= maxRuns) return reply(res, 429, { detail: "Conversation run limit reached. Retry the request later." });
    const id = body.conversation_id || crypto.randomUUID();
    const conv = { id, events: [], status: "idle", sockets: new Set(), pending: [], llmCalls: 0, leaf: null, lastUser: null,
      running: false, workspace: body.workspace, agent: body.agent, createdAt: stamp() + "Z" };
    conversations.set(id, conv);
    return reply(res, 201, info(conv));
  }
  const conv = conversations.get(parts[0]);
  if (!conv) return reply(res, 404, { detail: `Conversation not found: ${parts[0]}` });
  const sub = parts.slice(1).join("/");
  if (sub === "" && req.method === "GET") return reply(res, 200, info(conv));
  if (sub === "" && req.method === "DELETE") {
    conversations.delete(conv.id);
    for (const s of conv.sockets) s.ws.close(1000);
    return reply(res, 200, { success: true });
  }
  if (sub === "events" && req.method === "POST") {
    const body = await readBody(req);
    const text = messageText(body);
    if (text === null) return reply(res, 422, { detail: [{ type: "missing", loc: ["body", "role"], msg: "Field required" }] });
    message(conv, text);
    if (body.run && run(conv) === "run_limit") {
      return reply(res, 429, { detail: `Message saved, but the conversation run limit was reached. Retry POST /api/conversations/${conv.id}/run without resending the message.` });
    }
    return reply(res, 200, { success: true });
  }
  if (sub === "run" && req.method === "POST") {
    if (conv.running) return reply(res, 409, { detail: "Conversation already running. Wait for completion or pause first." });
    if (run(conv) === "run_limit") return reply(res, 429, { detail: "Conversation run limit reached. Retry the request later." });
    return reply(res, 200, { success: true });
  }
  if (sub === "events/count") return reply(res, 200, String(conv.events.length));
  if (sub === "events/search") {
    const limit = Number(url.searchParams.get("limit") || "100");
    if (!(limit >= 1 && limit <= 100)) return reply(res, 422, { detail: [{ type: "less_than_equal", loc: ["query", "limit"] }] });
    const pageId = url.searchParams.get("page_id");
    const start = pageId ? Math.max(conv.events.findIndex((e) => e.id === pageId), 0) : 0;
    const items = conv.events.slice(start, start + limit);
    const next = conv.events[start + limit] ? conv.events[start + limit].id : null;
    return reply(res, 200, { items, next_page_id: next });
  }
  return reply(res, 404, { detail: "Not Found" });
});

const wss = new WebSocketServer({ noServer: true });

function refuse(socket) {
  socket.write("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  socket.destroy();
}

server.on("upgrade", (req, socket, head) => {
  const url = new URL(req.url, "http://localhost");
  const m = url.pathname.match(/^\/sockets\/(events|session)\/([^/]+)$/);
  if (!m || !UUID.test(m[2])) return refuse(socket);
  const given = url.searchParams.has("session_api_key") ? url.searchParams.get("session_api_key") : req.headers["x-session-api-key"];
  if (key !== null && given !== undefined && given !== key) return refuse(socket);
  const mode = url.searchParams.get("resend_mode");
  const after = url.searchParams.get("after_timestamp");
  if (mode !== null && mode !== "all" && mode !== "since") return refuse(socket);
  if (mode === "since" && after && Number.isNaN(Date.parse(after))) return refuse(socket);
  const afterSeq = url.searchParams.get("after_seq");
  if (afterSeq !== null && !/^-?\d+$/.test(afterSeq)) return refuse(socket);
  wss.handleUpgrade(req, socket, head, (ws) => attach(ws, m[1], m[2], key !== null && given === undefined, mode, after, afterSeq));
});

function attach(ws, kind, id, needAuth, mode, after, afterSeq) {
  let authed = !needAuth;
  const timer = needAuth ? setTimeout(() => ws.close(4001, "Authentication failed"), authTimeoutMs) : null;
  const start = () => {
    const conv = conversations.get(id);
    if (!conv) return ws.close(4004, "Conversation not found");
    if (conv.sockets.size >= socketCap) return ws.close(1013, "Too many connections for this conversation");
    const sock = { ws, kind };
    const snapshot = JSON.stringify(state(conv, "full_state", fullState(conv), null));
    if (kind === "events") {
      ws.send(snapshot);
      const replay = mode === "all" ? conv.events : mode === "since" && after ? conv.events.filter((e) => e.timestamp >= after) : [];
      for (const e of replay) ws.send(JSON.stringify(e));
    } else {
      const through = conv.events.length ? conv.events.length - 1 : undefined;
      const sync = { type: "sync" };
      if (afterSeq !== null) sync.from_seq = Number(afterSeq);
      if (through !== undefined) sync.through_seq = through;
      ws.send(JSON.stringify(sync));
      if (afterSeq !== null) {
        for (let seq = Number(afterSeq) + 1; seq < conv.events.length; seq++) {
          ws.send(`{"type":"durable","seq":${seq},"event":${JSON.stringify(conv.events[seq])}}`);
        }
      }
      ws.send(`{"type":"transient","event":${snapshot}}`);
    }
    conv.sockets.add(sock);
    ws.on("close", () => conv.sockets.delete(sock));
  };
  ws.on("message", (raw) => {
    let data;
    try { data = JSON.parse(raw.toString()); } catch { data = undefined; }
    if (!authed) {
      clearTimeout(timer);
      if (data && data.type === "auth" && data.session_api_key === key) { authed = true; return start(); }
      return ws.close(4001, "Authentication failed");
    }
    const conv = conversations.get(id);
    const text = messageText(data);
    if (!conv) return;
    if (text === null) {
      const code = data === undefined ? "JSONDecodeError" : "ValidationError";
      return ws.send(JSON.stringify({ id: crypto.randomUUID(), timestamp: stamp(), source: "environment", code,
        detail: "not a Message", kind: "ServerErrorEvent" }));
    }
    message(conv, text);
    if (run(conv) === "run_limit") {
      ws.send(JSON.stringify({ id: crypto.randomUUID(), timestamp: stamp(), source: "environment",
        code: "ConversationRunLimitExceeded", detail: `Message saved, but the conversation run limit was reached. Retry POST /api/conversations/${id}/run without resending the message.`,
        kind: "ServerErrorEvent" }));
    }
  });
  if (authed) start();
}

server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
