// A plain Node socket.io 4.x server for loadtest's interop tests and client benchmark.
//
// Usage: node sio_server.js [--port 0] [--ping-interval MS] [--ping-timeout MS]
// Prints "listening <port>" once it accepts connections. Loopback only.
//
// Connect query:  refuse=<message>   refuse the namespace with CONNECT_ERROR {message, data: {code: 42}}
// Events (client -> server):
//   echo (...args, ack)        ack with the same args (binary included)
//   echo_event (...args)       emit "echoed" with the same args
//   slow_ack (ms, ack)         ack with [ms] after ms milliseconds
//   bogus_ack ()               send an ACK for an id the client never used (99999)
//   ask (value)                emit "question" [value] asking for an ack; emit "answer" with the ack's args
//   kick ()                    server-initiated disconnect (Socket.IO DISCONNECT)
//   drop ()                    terminate the TCP connection (no close frame)
//   stall ()                   stop pinging and answering: the connection goes silent
//   stream (count, size, ack)  emit count "tick" events of about size bytes, then ack with [count]
//   stats (ack)                ack with {connections, cpu_ms} (the benchmark checks the server is not the bottleneck)
"use strict";

const http = require("http");
const { Server } = require("socket.io");

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? Number(process.argv[i + 1]) : fallback;
}

const port = option("--port", 0);
const pingInterval = option("--ping-interval", 25000);
const pingTimeout = option("--ping-timeout", 20000);

const httpServer = http.createServer((req, res) => {
  res.writeHead(404);
  res.end();
});
const io = new Server(httpServer, {
  pingInterval,
  pingTimeout,
  transports: ["websocket"],
  perMessageDeflate: false,
  maxHttpBufferSize: 16 * 1024 * 1024,
});

io.use((socket, next) => {
  const refuse = socket.handshake.query.refuse;
  if (refuse) {
    const err = new Error(String(refuse));
    err.data = { code: 42 };
    next(err);
    return;
  }
  next();
});

io.on("connection", (socket) => {
  if (socket.handshake.auth && Object.keys(socket.handshake.auth).length > 0) {
    socket.emit("auth_seen", socket.handshake.auth);
  }
  socket.on("echo", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
  socket.on("echo_event", (...args) => socket.emit("echoed", ...args));
  socket.on("slow_ack", (ms, ack) => setTimeout(() => ack(ms), ms));
  socket.on("bogus_ack", () => socket.conn.send("399999[]"));
  socket.on("ask", (value) => {
    socket.emit("question", value, (...answer) => socket.emit("answer", ...answer));
  });
  socket.on("kick", () => socket.disconnect(true));
  socket.on("drop", () => socket.conn.transport.socket.terminate());
  socket.on("stall", () => {
    const conn = socket.conn;
    clearTimeout(conn.pingIntervalTimer);
    clearTimeout(conn.pingTimeoutTimer);
    conn.pingIntervalTimer = null;
    conn.pingTimeoutTimer = null;
    conn.removeAllListeners("packet");
  });
  socket.on("stream", (count, size, ack) => {
    const body = { id: 0, source: "agent", message: "x".repeat(Math.max(0, size - 60)) };
    let sent = 0;
    const batch = () => {
      const end = Math.min(count, sent + 500);
      for (; sent < end; sent++) {
        body.id = sent;
        socket.emit("tick", body);
      }
      if (sent < count) setImmediate(batch);
      else if (typeof ack === "function") ack(count);
    };
    batch();
  });
  socket.on("stats", (ack) => {
    const usage = process.cpuUsage();
    ack({ connections: io.engine.clientsCount, cpu_ms: (usage.user + usage.system) / 1000 });
  });
});

httpServer.listen(port, "127.0.0.1", () => {
  process.stdout.write(`listening ${httpServer.address().port}\n`);
});

process.on("SIGTERM", () => process.exit(0));
