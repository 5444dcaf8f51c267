// Artillery processor for loadtest's generator benchmark. `turns` runs on the socketio engine's own socket
// (context.sockets[""], opened by the engine with config.socketio): emit `bench_turn`, wait for its ack (the
// firehose acks after the K oh_event of the turn), record the latency as `bench.turn`, repeat without think
// time until BENCH_SECONDS pass since the processor loaded, so every run stops by itself. A YAML `loop` of
// `emit` + `acknowledge` overflowed the stack in artillery 2.0.34, hence the function.
"use strict";

const started = Date.now();
const seconds = Number(process.env.BENCH_SECONDS || "20");

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
};
