// An independent OpenHands-style client (Node socket.io-client 4.x, as the OpenHands frontend uses).
// Usage: node oh_client.js <url> <conversation_id> <latest_event_id> [message] [end_state] [timeout_ms]
// Connects with transports ["websocket"] and the V0 query, prints one JSON line per happening:
//   {"kind":"event","t":ms,"data":{...}}   every oh_event (replayed ones arrive before "connect")
//   {"kind":"connect","t":ms} | {"kind":"connect_error","message":..,"data":..} | {"kind":"disconnect","reason":..}
// With a message it sends {"action":"message","args":{"content":...}} after connecting and waits for an
// agent_state_changed event whose state is end_state (default awaiting_user_input); then prints
// {"kind":"done"} and exits 0. Exits 1 on connect_error and 2 on timeout.
"use strict";
const { io } = require("socket.io-client");

const [url, conversationId, latest, message, endState = "awaiting_user_input", timeoutMs = "10000"] =
  process.argv.slice(2);
const started = process.hrtime.bigint();
const now = () => Number(process.hrtime.bigint() - started) / 1e6;
const out = (obj) => process.stdout.write(JSON.stringify({ ...obj, t: now() }) + "\n");

let sentAt = null;
const socket = io(url, {
  transports: ["websocket"],
  reconnection: false,
  query: { latest_event_id: latest, conversation_id: conversationId, providers_set: "", session_api_key: "null" },
});
const timer = setTimeout(() => {
  out({ kind: "timeout" });
  socket.close();
  process.exit(2);
}, Number(timeoutMs));

socket.on("oh_event", (data) => {
  out({ kind: "event", data });
  const state = data && data.observation === "agent_state_changed" ? data.extras.agent_state : null;
  if (message && sentAt !== null && state === endState) {
    out({ kind: "done" });
    clearTimeout(timer);
    socket.close();
    process.exit(0);
  }
});
socket.on("connect", () => {
  out({ kind: "connect" });
  if (message) {
    sentAt = now();
    socket.emit("oh_user_action", { action: "message", args: { content: message } });
  } else {
    // no message: report what the connect produced, then leave
    setTimeout(() => {
      out({ kind: "done" });
      clearTimeout(timer);
      socket.close();
      process.exit(0);
    }, 300);
  }
});
socket.on("connect_error", (err) => {
  out({ kind: "connect_error", message: err.message, data: err.data === undefined ? null : err.data });
  clearTimeout(timer);
  socket.close();
  process.exit(1);
});
socket.on("disconnect", (reason) => out({ kind: "disconnect", reason }));
