// Artillery processor for loadtest's generator benchmark. `turns` runs on the socketio engine's own socket
// (context.sockets[""], opened by the engine with config.socketio): emit `bench_turn`, wait for its ack (the
// firehose acks after the K oh_event of the turn), record the latency as `bench.turn`, repeat without think
// time until BENCH_SECONDS pass since the processor loaded, so every run stops by itself. A YAML `loop` of
// `emit` + `acknowledge` overflowed the stack in artillery 2.0.34, hence the function.
// `listen` (stream.yml) counts every oh_event pushed to the socket and classifies it the cheap way (agent state
// change or not), reporting the counts once a second per virtual user (`bench.events`, `bench.state_events`)
// rather than one Artillery metric per event, until BENCH_SECONDS pass.
"use strict";

const fs = require("fs");

const started = Date.now();
const seconds = Number(process.env.BENCH_SECONDS || "20");

// idle.yml: with BENCH_GC_FILE set (and node --expose-gc), a full collection in this worker each time the file's
// content changes, so the benchmark reads RSS after a collection, as it does for the Python clients (gc.collect)
// instead of whenever V8's memory reducer happens to run. Checked every 100 ms, for BENCH_SECONDS at most.
const gcFile = process.env.BENCH_GC_FILE;
if (gcFile && typeof global.gc === "function") {
  let seen = "";
  const timer = setInterval(() => {
    if (Date.now() - started >= seconds * 1000) return clearInterval(timer);
    let text = "";
    try {
      text = fs.readFileSync(gcFile, "utf8");
    } catch (err) {
      return;
    }
    if (text && text !== seen) {
      seen = text;
      global.gc();
      fs.writeFileSync(gcFile + ".done", text);
    }
  }, 100);
  timer.unref();
}

module.exports = {
  turns(context, events, done) {
    const socket = context.sockets && context.sockets[""];
    if (!socket) return done(new Error("no socket"));
    const step = () => {
      if (Date.now() - started >= seconds * 1000) return done();
      const t0 = process.hrtime.bigint();
      socket.emit("bench_turn", "hello", () => {
        events.emit("histogram", "bench.turn", Number(process.hrtime.bigint() - t0) / 1e6);
        events.emit("counter", "bench.turns", 1);
        setImmediate(step);
      });
    };
    step();
  },

  listen(context, events, done) {
    const socket = context.sockets && context.sockets[""];
    if (!socket) return done(new Error("no socket"));
    let received = 0;
    let states = 0;
    const onEvent = (event) => {
      received += 1;
      if (event && event.extras && typeof event.extras.agent_state === "string") states += 1;
    };
    const flush = () => {
      if (received) events.emit("counter", "bench.events", received);
      if (states) events.emit("counter", "bench.state_events", states);
      received = 0;
      states = 0;
    };
    socket.on("oh_event", onEvent);
    const timer = setInterval(() => {
      flush();
      if (Date.now() - started >= seconds * 1000) {
        clearInterval(timer);
        socket.off("oh_event", onEvent);
        done();
      }
    }, 1000);
  },
};
