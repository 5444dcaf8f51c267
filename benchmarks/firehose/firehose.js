// "Firehose": a fast Node socket.io 4.x target that speaks enough of the OpenHands V0 protocol for loadtest's
// users (ChatUser, PacedUser, IdleUser), python-socketio clients and Artillery, so a client benchmark measures
// the client, not the server. Loopback only; every stream is bounded in time.
//
// Usage: node firehose.js [--port 0] [--events K] [--agent-bytes N] [--deflate] [--ping-interval MS]
//                         [--ping-timeout MS] [--session-api-key KEY]
// Prints "listening <port>" once it accepts connections.
//
// Socket.IO (path /socket.io/, websocket transport only):
//   connect query   conversation_id (required; unknown ids are created on the fly), latest_event_id,
//                   providers_set, session_api_key (checked only with --session-api-key)
//   oh_user_action  {"action": "message", "args": {"content": ...}} (also legacy oh_action) -> K oh_event to the
//                   conversation's room, ids dense per conversation: the echo (source user), agent state
//                   running, K-3 agent events (run, run output, message, ...), agent state awaiting_user_input
//   bench_turn      (text, ack) the same K events to this socket only, then an ack (for clients that wait on an
//                   ack, and for Artillery, whose socketio query is templated once for all virtual users)
// REST:
//   POST /api/conversations             {"status":"ok","conversation_id":<hex32>,...}
//   GET  /api/conversations/<id>        conversation info;  GET .../events -> {"events":[],"has_more":false}
//   GET  /bench/stats                   {cpu_ms, connections, conversations, actions, events, bytes}
//   POST /bench/stream?rate=R&seconds=S push R events/s to every conversation for S (<= 600) seconds (`events`
//                                       counts one per socket reached)
"use strict";

const http = require("http");
const crypto = require("crypto");
const { Server } = require("socket.io");

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const port = Number(option("--port", 0));
const K = Math.max(3, Number(option("--events", 4)));
const agentBytes = Math.max(0, Number(option("--agent-bytes", 200)));
const deflate = process.argv.includes("--deflate");
const apiKey = option("--session-api-key", "");
const filler = "x".repeat(agentBytes);

const conversations = new Map(); // id -> {nextId, sockets}
const stats = { actions: 0, events: 0, connections: 0 };

function conversation(id) {
  let c = conversations.get(id);
  if (c === undefined) {
    c = { nextId: 0, sockets: 0 }; // OpenHands ids start at 0
    conversations.set(id, c);
  }
  return c;
}

function stamp() {
  return new Date().toISOString().slice(0, 23);
}

function stateEvent(conv, state) {
  return {
    id: conv.nextId++,
    timestamp: stamp(),
    source: "agent",
    message: "",
    observation: "agent_state_changed",
    content: "",
    extras: { agent_state: state, reason: "" },
  };
}

function agentEvent(conv, i) {
  const id = conv.nextId++;
  switch (i % 3) {
    case 0:
      return {
        id, timestamp: stamp(), source: "agent", message: "Running command: ls", action: "run",
        args: { command: "ls", is_input: false, thought: filler, blocking: false, hidden: false,
                confirmation_state: "confirmed", security_risk: -1 },
      };
    case 1:
      return {
        id, timestamp: stamp(), source: "agent", message: "Command `ls` executed with exit code 0.",
        cause: id - 1, observation: "run", content: filler,
        extras: { command: "ls", metadata: { exit_code: 0, pid: -1, working_dir: "/workspace" }, hidden: false },
        success: true,
      };
    default:
      return {
        id, timestamp: stamp(), source: "agent", message: "Done.", action: "message",
        args: { content: "Done. " + filler, file_urls: null, image_urls: null, wait_for_response: true,
                security_risk: -1 },
      };
  }
}

// `deliveries`: sockets reached (a conversation's room may hold several, e.g. Artillery's virtual users, which
// all share one conversation id); turns go to one socket per conversation in every generator.
function emitTo(target, event, deliveries = 1) {
  (typeof target === "string" ? io.to(target) : target).emit("oh_event", event);
  stats.events += deliveries;
}

// `target` is the conversation id (its room: every socket of the conversation) or one socket.
function turn(cid, data, target = cid) {
  const conv = conversation(cid);
  const args = (data && data.args) || {};
  const content = typeof args.content === "string" ? args.content : "";
  stats.actions += 1;
  emitTo(target, {
    id: conv.nextId++, timestamp: stamp(), source: "user", message: content, action: "message",
    args: { content, file_urls: [], image_urls: [], wait_for_response: false, security_risk: -1 },
  });
  emitTo(target, stateEvent(conv, "running"));
  for (let i = 0; i < K - 3; i++) emitTo(target, agentEvent(conv, i));
  emitTo(target, stateEvent(conv, "awaiting_user_input"));
}

function json(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function stream(rate, seconds) {
  // Every 10 ms each conversation gets its share of `rate` events/s; stops by itself after `seconds`.
  const until = Date.now() + Math.min(seconds, 600) * 1000;
  let owed = 0;
  const timer = setInterval(() => {
    if (Date.now() >= until) {
      clearInterval(timer);
      return;
    }
    owed += rate / 100;
    const n = Math.floor(owed);
    owed -= n;
    if (n === 0) return;
    for (const [cid, conv] of conversations) {
      if (conv.sockets === 0) continue;
      for (let i = 0; i < n; i++) emitTo(cid, agentEvent(conv, 1), conv.sockets);
    }
  }, 10);
}

const httpServer = http.createServer((req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  const parts = url.pathname.split("/").filter(Boolean);
  if (req.method === "POST" && url.pathname === "/api/conversations") {
    req.resume();
    req.on("end", () => {
      const id = crypto.randomBytes(16).toString("hex");
      conversation(id);
      json(res, 200, { status: "ok", conversation_id: id, message: null, conversation_status: "STARTING" });
    });
    return;
  }
  if (req.method === "GET" && parts[0] === "api" && parts[1] === "conversations" && parts.length >= 3) {
    if (parts[3] === "events") return json(res, 200, { events: [], has_more: false });
    return json(res, 200, {
      conversation_id: parts[2], status: "RUNNING", runtime_status: "STATUS$READY", title: parts[2],
    });
  }
  if (url.pathname === "/bench/stats") {
    const cpu = process.cpuUsage();
    return json(res, 200, { ...stats, conversations: conversations.size, cpu_ms: (cpu.user + cpu.system) / 1000 });
  }
  if (req.method === "POST" && url.pathname === "/bench/stream") {
    stream(Number(url.searchParams.get("rate") || 10), Number(url.searchParams.get("seconds") || 10));
    return json(res, 200, { status: "ok" });
  }
  if (url.pathname === "/alive" || url.pathname === "/health") return json(res, 200, { status: "ok" });
  json(res, 404, { message: "not found" });
});

const io = new Server(httpServer, {
  pingInterval: Number(option("--ping-interval", 25000)),
  pingTimeout: Number(option("--ping-timeout", 20000)),
  transports: ["websocket"],
  perMessageDeflate: deflate ? { threshold: 0 } : false,
  maxHttpBufferSize: 4 * 1024 * 1024,
});

io.use((socket, next) => {
  const q = socket.handshake.query;
  if (!q.conversation_id) {
    next(Object.assign(new Error("No conversation_id in request"), { data: { msg_id: "NO_CONVERSATION_ID" } }));
    return;
  }
  if (apiKey && q.session_api_key !== apiKey) {
    next(new Error("invalid_session_api_key"));
    return;
  }
  next();
});

io.on("connection", (socket) => {
  const cid = String(socket.handshake.query.conversation_id);
  const conv = conversation(cid);
  conv.sockets += 1;
  stats.connections += 1;
  socket.join(cid);
  socket.on("oh_user_action", (data) => turn(cid, data));
  socket.on("oh_action", (data) => turn(cid, data));
  socket.on("bench_turn", (text, ack) => {
    turn(cid, { args: { content: String(text) } }, socket);
    if (typeof ack === "function") ack(K);
  });
  socket.on("disconnect", () => {
    conv.sockets -= 1;
    stats.connections -= 1;
  });
});

httpServer.listen(port, "127.0.0.1", () => {
  process.stdout.write(`listening ${httpServer.address().port}\n`);
});
