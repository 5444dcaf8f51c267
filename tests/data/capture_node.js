// Capture codec vectors from Node's socket.io-parser and engine.io-parser (the parsers socket.io 4.x uses).
//
// Usage (after `npm ci` in tests/node):  node tests/data/capture_node.js > tests/data/vectors_node.json
//
// For every spec in cases.json it records the frames the library encodes (text frames with the Engine.IO
// MESSAGE prefix "4", binary attachments as base64 under "binary") and what the library decodes from those
// frames; for every hostile string whether the library's decoder rejects it.
"use strict";

const fs = require("fs");
const path = require("path");

const modules = path.join(__dirname, "..", "node", "node_modules");
const sioParser = require(path.join(modules, "socket.io-parser"));
const eioParser = require(path.join(modules, "engine.io-parser"));
const cases = JSON.parse(fs.readFileSync(path.join(__dirname, "cases.json"), "utf8"));

function revive(value) {
  if (Array.isArray(value)) return value.map(revive);
  if (value && typeof value === "object") {
    if (Object.keys(value).length === 1 && "$bytes" in value) return Buffer.from(value.$bytes, "base64");
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = revive(v);
    return out;
  }
  return value;
}

function plain(value) {
  if (Buffer.isBuffer(value) || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    return { $bytes: Buffer.from(value).toString("base64") };
  }
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = plain(v);
    return out;
  }
  return value;
}

function frame(item) {
  return typeof item === "string" ? { text: item } : { binary: Buffer.from(item).toString("base64") };
}

function decodeSio(frames) {
  const decoder = new sioParser.Decoder();
  let result = null;
  decoder.on("decoded", (p) => {
    result = p;
  });
  for (const f of frames) {
    decoder.add(f.text !== undefined ? f.text.slice(1) : Buffer.from(f.binary, "base64"));
  }
  if (!result) return null;
  const out = { type: result.type, nsp: result.nsp };
  if (result.data !== undefined) out.data = plain(result.data);
  if (result.id !== undefined) out.id = result.id;
  if (result.attachments !== undefined) out.attachments = result.attachments;
  return out;
}

const encoder = new sioParser.Encoder();
const sio = cases.sio.map((spec) => {
  const packet = { type: spec.type, nsp: spec.nsp };
  if (spec.data !== undefined) packet.data = revive(spec.data);
  if (spec.id !== undefined) packet.id = spec.id;
  const frames = encoder.encode(packet).map((item, i) => (i === 0 ? frame("4" + item) : frame(item)));
  return { name: spec.name, frames, decoded: decodeSio(frames) };
});

function encodeEio(packet) {
  return new Promise((resolve) => eioParser.encodePacket(packet, true, resolve));
}

async function main() {
  const eio = [];
  for (const spec of cases.eio) {
    const packet = { type: spec.type };
    if (spec.data !== undefined) {
      packet.data = spec.type === "open" ? JSON.stringify(spec.data) : revive(spec.data);
    }
    const encoded = await encodeEio(packet);
    const back = eioParser.decodePacket(encoded, "nodebuffer");
    eio.push({
      name: spec.name,
      frames: [frame(encoded)],
      decoded: { type: back.type, data: back.data === undefined ? null : plain(back.data) },
    });
  }
  const payloads = [];
  for (const spec of cases.payloads) {
    const packets = spec.packets.map((p) => (p.data === undefined ? { type: p.type } : { type: p.type, data: revive(p.data) }));
    const encoded = await new Promise((resolve) => eioParser.encodePayload(packets, resolve));
    const back = eioParser.decodePayload(encoded, "nodebuffer");
    payloads.push({
      name: spec.name,
      payload: encoded,
      decoded: back.map((p) => ({ type: p.type, data: p.data === undefined ? null : plain(p.data) })),
    });
  }
  const hostile = cases.hostile_sio.map((text) => {
    const decoder = new sioParser.Decoder();
    let rejected = false;
    try {
      decoder.add(text);
    } catch (e) {
      rejected = true;
    }
    return { text, rejected };
  });
  const versions = {};
  for (const name of ["socket.io-parser", "engine.io-parser", "socket.io"]) {
    versions[name] = JSON.parse(fs.readFileSync(path.join(modules, name, "package.json"), "utf8")).version;
  }
  const out = {
    captured_by: "tests/data/capture_node.js",
    how: "node tests/data/capture_node.js > tests/data/vectors_node.json (after npm ci in tests/node)",
    node: process.version,
    versions,
    sio,
    eio,
    payloads,
    hostile,
  };
  process.stdout.write(JSON.stringify(out, null, 1) + "\n");
}

main();
