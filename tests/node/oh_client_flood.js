// Throughput probe: many socket.io-client sockets, each on its own new conversation, each sending turns
// back to back; counts oh_event frames until every conversation has finished its turns.
// Usage: node oh_client_flood.js <url> <conversations> <turns_per_conversation> [timeout_ms]
// Prints one JSON line: {"conversations", "turns", "events", "bytes", "elapsed_ms", "events_per_s", "complete"}.
"use strict";
const { io } = require("socket.io-client");

const [url, nConv = "20", nTurns = "10", timeoutMs = "60000"] = process.argv.slice(2);
const conversations = Number(nConv);
const turns = Number(nTurns);
let events = 0;
let bytes = 0;
let finished = 0;
let started = null;
const sockets = [];

function report(complete) {
  const elapsed = started === null ? 0 : Number(process.hrtime.bigint() - started) / 1e6;
  process.stdout.write(
    JSON.stringify({
      conversations, turns, events, bytes, elapsed_ms: elapsed,
      events_per_s: elapsed > 0 ? (events * 1000) / elapsed : 0, complete,
    }) + "\n",
  );
  sockets.forEach((s) => s.close());
  process.exit(complete ? 0 : 2);
}
const timer = setTimeout(() => report(false), Number(timeoutMs));
let connected = 0;
for (let i = 0; i < conversations; i++) {
  const cid = `flood${String(i).padStart(4, "0")}${Date.now().toString(16)}`;
  const socket = io(url, { transports: ["websocket"], reconnection: false, query: { conversation_id: cid } });
  sockets.push(socket);
  let ends = 0;
  let ready = false;
  socket.on("oh_event", (data) => {
    if (started !== null) { events += 1; bytes += JSON.stringify(data).length; }
    if (data && data.observation === "agent_state_changed" && data.extras.agent_state === "awaiting_user_input") {
      if (!ready) {
        ready = true;
        connected += 1;
        if (connected === conversations) {
          started = process.hrtime.bigint();
          sockets.forEach((s) => {
            for (let t = 0; t < turns; t++) s.emit("oh_user_action", { action: "message", args: { content: `t${t}` } });
          });
        }
        return;
      }
      ends += 1;
      if (ends === turns) {
        finished += 1;
        if (finished === conversations) { clearTimeout(timer); report(true); }
      }
    }
  });
}
