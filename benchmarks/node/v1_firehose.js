// "V1 firehose": a fast Node target (http + ws 8.x) that speaks enough of the OpenHands V1 agent server for
// loadtest's V1Conversation, so benchmarks/v1_vs_v0.py measures our client, not the server. The frames have the
// shapes of tests/node/v1_server.js (captured from openhands-agent-server 1.58.2, ../shared/openhands-v1.md); no
// delays, no limits, no auth, nothing stored (so no replay: the benchmark never reconnects). Loopback only.
//
// Usage: node v1_firehose.js [--port 0] [--events K] [--agent-bytes N]
// Prints "listening <port>" once it accepts connections. Needs `ws` (NODE_PATH=tests/node/node_modules).
//
// REST: POST /api/conversations -> 201 ConversationInfo (a fresh UUID); GET /server_info (sdk_version);
//       GET /bench/stats -> {cpu_ms, connections, conversations, actions, events, bytes}
// Socket /sockets/events/{id}: on open a full_state ConversationStateUpdateEvent (the snapshot); each Message
// frame ({"role":"user","content":[...]}) is answered at once by K frames (K >= 5), as one turn of the real
// server: the user MessageEvent (echo), last_user_message_id, execution_status running, K-5 agent events
// (ActionEvent, ObservationEvent, agent MessageEvent in turn, each carrying --agent-bytes of text), execution_status
// finished, then the post-run full_state snapshot (execution_status finished) that ends the turn.
"use strict";

const http = require("http");
const crypto = require("crypto");
const { WebSocketServer } = require("ws");

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const port = Number(option("--port", "0"));
const K = Math.max(5, Number(option("--events", "8")));
const filler = "x".repeat(Math.max(0, Number(option("--agent-bytes", "200"))));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const conversations = new Map(); // id -> {id, status, leaf, lastUser, calls, sockets}
const stats = { actions: 0, events: 0, connections: 0, bytes: 0 };

// Zone-less ISO 8601 with microseconds, as the Python server prints datetime.now() (UTC here; never compared).
function stamp() {
  return new Date().toISOString().slice(0, 23) + "000";
}

function update(conv, key, value, parent) {
  const event = { id: crypto.randomUUID(), timestamp: stamp(), source: "environment" };
  if (parent) event.parent_id = parent;
  event.key = key;
  event.value = value;
  event.kind = "ConversationStateUpdateEvent";
  return event;
}

function fullState(conv) {
  return update(conv, "full_state", { id: conv.id, execution_status: conv.status, last_user_message_id: conv.lastUser,
    stats: { usage_to_metrics: {} } }, null);
}

function agentEvent(conv, i) {
  const id = crypto.randomUUID();
  const callId = `call_fh${conv.calls}`;
  switch (i % 3) {
    case 0:
      conv.actionId = id;
      return { id, timestamp: stamp(), source: "agent", parent_id: conv.leaf, thought: [{ type: "text", text: filler }],
        action: { command: "ls", is_input: false, timeout: null, reset: false, kind: "ExecuteBashAction" },
        tool_name: "execute_bash", tool_call_id: callId,
        tool_call: { id: callId, name: "execute_bash", arguments: '{"command": "ls"}', origin: "completion" },
        llm_response_id: `chatcmpl-fh${conv.calls}`, security_risk: "UNKNOWN", summary: "list files", kind: "ActionEvent" };
    case 1:
      return { id, timestamp: stamp(), source: "environment", parent_id: conv.actionId || conv.leaf, tool_name: "execute_bash",
        tool_call_id: callId, observation: { content: [{ type: "text", text: filler }], is_error: false, command: "ls",
          exit_code: 0, kind: "ExecuteBashObservation" }, action_id: conv.actionId, extended_content: [], kind: "ObservationEvent" };
    default:
      return { id, timestamp: stamp(), source: "agent", parent_id: conv.leaf,
        llm_message: { role: "assistant", content: [{ type: "text", text: "Done. " + filler }] }, activated_skills: [],
        extended_content: [], kind: "MessageEvent" };
  }
}

function turn(conv, ws, text) {
  stats.actions += 1;
  conv.calls += 1;
  const send = (event) => {
    const body = JSON.stringify(event);
    ws.send(body);
    stats.events += 1;
    stats.bytes += body.length;
    if (event.kind !== "ConversationStateUpdateEvent") conv.leaf = event.id;
  };
  const msg = { id: crypto.randomUUID(), timestamp: stamp(), source: "user", parent_id: conv.leaf,
    llm_message: { role: "user", content: [{ type: "text", text }] }, activated_skills: [], extended_content: [],
    kind: "MessageEvent" };
  send(msg);
  conv.lastUser = msg.id;
  send(update(conv, "last_user_message_id", msg.id, msg.id));
  conv.status = "running";
  send(update(conv, "execution_status", "running", conv.leaf));
  for (let i = 0; i < K - 5; i++) send(agentEvent(conv, i));
  conv.status = "finished";
  send(update(conv, "execution_status", "finished", conv.leaf));
  send(fullState(conv));
}

function messageText(body) {
  if (!body || typeof body !== "object" || body.role !== "user") return null;
  if (typeof body.content === "string") return body.content;
  return (body.content || []).map((p) => p.text || "").join("\n");
}

function reply(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  if (url.pathname === "/bench/stats") {
    const cpu = process.cpuUsage();
    return reply(res, 200, { ...stats, conversations: conversations.size, cpu_ms: (cpu.user + cpu.system) / 1000 });
  }
  if (url.pathname === "/server_info") return reply(res, 200, { version: "v1-firehose", sdk_version: "v1-firehose" });
  if (url.pathname === "/health" || url.pathname === "/ready") return reply(res, 200, "OK");
  if (req.method === "POST" && url.pathname === "/api/conversations") {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      let body;
      try { body = JSON.parse(Buffer.concat(chunks).toString() || "null"); } catch { body = null; }
      if (!body || !body.workspace) return reply(res, 422, { detail: [{ type: "missing", loc: ["body", "workspace"], msg: "Field required" }] });
      const id = crypto.randomUUID();
      const conv = { id, status: "idle", leaf: null, lastUser: null, calls: 0, actionId: null };
      conversations.set(id, conv);
      const now = stamp();
      reply(res, 201, { id, workspace: body.workspace, execution_status: "idle", title: null, agent: body.agent,
        created_at: now, updated_at: now, stats: { usage_to_metrics: {} } });
    });
    return undefined;
  }
  return reply(res, 404, { detail: "Not Found" });
});

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

server.on("upgrade", (req, socket, head) => {
  const m = new URL(req.url, "http://127.0.0.1").pathname.match(/^\/sockets\/events\/([^/]+)$/);
  if (!m || !UUID.test(m[1])) {
    socket.write("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    return socket.destroy();
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    const conv = conversations.get(m[1]);
    if (!conv) return ws.close(4004, "Conversation not found");
    stats.connections += 1;
    ws.send(JSON.stringify(fullState(conv)));
    ws.on("message", (raw) => {
      let data;
      try { data = JSON.parse(raw.toString()); } catch { data = undefined; }
      const text = messageText(data);
      if (text === null) {
        return ws.send(JSON.stringify({ id: crypto.randomUUID(), timestamp: stamp(), source: "environment",
          code: data === undefined ? "JSONDecodeError" : "ValidationError", detail: "not a Message", kind: "ServerErrorEvent" }));
      }
      return turn(conv, ws, text);
    });
    return undefined;
  });
});

server.listen(port, "127.0.0.1", () => process.stdout.write(`listening ${server.address().port}\n`));
