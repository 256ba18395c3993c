"use strict";
// Makes and loads session strings with the real GramJS (npm "telegram", pinned in package.json), for the tests.
//
// Protocol: one JSON request per stdin line, one JSON answer per stdout line, in the same order.
//   {"op":"make","dc_id":2,"address":"149.154.167.51","port":443,"key_hex":"<hex>"} -> {"session":"<text>"}
//   {"op":"load","session":"<text>"} -> {"dc_id":2,"address":"..","port":443,"key_hex":"<hex>"}
//   any failure -> {"error":"<message>"}; an error never echoes the request (session strings are credentials).
//
// Nothing here may touch the network: every way Node has to open a connection or resolve a name is replaced,
// before GramJS is loaded, by one that throws.

const net = require("node:net");
const tls = require("node:tls");
const dns = require("node:dns");
const http = require("node:http");
const https = require("node:https");
const readline = require("node:readline");

function refuse() {
  throw new Error("gramjs_sessions.js never opens a network connection");
}

net.Socket.prototype.connect = refuse;
net.connect = refuse;
net.createConnection = refuse;
tls.connect = refuse;
for (const name of ["lookup", "resolve", "resolve4", "resolve6", "resolveAny"]) {
  dns[name] = refuse;
  dns.promises[name] = refuse;
}
http.request = refuse;
http.get = refuse;
https.request = refuse;
https.get = refuse;
globalThis.fetch = refuse;
globalThis.WebSocket = undefined;

// Only answers go to stdout: anything GramJS might log goes to stderr.
const writeAnswer = process.stdout.write.bind(process.stdout);
for (const name of ["log", "info", "warn", "debug", "trace"]) {
  console[name] = console.error;
}

const { StringSession } = require("telegram/sessions");
const { AuthKey } = require("telegram/crypto/AuthKey");

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

// GramJS's BinaryReader puts the bytes it read into its "No more data left to read" message; keep only the counts.
function safeMessage(error) {
  const message = error instanceof Error ? error.message : String(error);
  const short = /^No more data left to read \(need (-?\d+), got (\d+)/.exec(message);
  if (short) {
    return `No more data left to read (need ${short[1]}, got ${short[2]})`;
  }
  const name = error instanceof Error ? error.name : "Error";
  // Other GramJS and Node messages name offsets and ranges, never data; cut them short all the same.
  return `${name}: ${message}`.slice(0, 300);
}

async function make(request) {
  const { dc_id: dcId, address, port, key_hex: keyHex } = request;
  if (!Number.isInteger(dcId) || typeof address !== "string" || !Number.isInteger(port)) {
    throw new Error("make needs integer dc_id and port and a string address");
  }
  if (typeof keyHex !== "string" || !HEX.test(keyHex)) {
    throw new Error("make needs key_hex: an even number of hex digits");
  }
  const session = new StringSession("");
  session.setDC(dcId, address, port);
  const key = new AuthKey();
  await key.setKey(Buffer.from(keyHex, "hex"));
  session.setAuthKey(key);
  return { session: session.save() };
}

async function load(request) {
  if (typeof request.session !== "string") {
    throw new Error("load needs a string session");
  }
  const session = new StringSession(request.session);
  await session.load();
  const authKey = session.getAuthKey();
  const key = authKey === undefined ? undefined : authKey.getKey();
  if (key === undefined) {
    throw new Error("GramJS loaded no auth key");
  }
  return {
    dc_id: session.dcId,
    address: session.serverAddress === undefined ? null : session.serverAddress,
    port: session.port === undefined ? null : session.port,
    key_hex: Buffer.from(key).toString("hex"),
  };
}

async function answer(line) {
  let request;
  try {
    request = JSON.parse(line);
  } catch (error) {
    return { error: "request is not JSON" };
  }
  try {
    if (request === null || typeof request !== "object") {
      throw new Error("request is not a JSON object");
    }
    if (request.op === "make") {
      return await make(request);
    }
    if (request.op === "load") {
      return await load(request);
    }
    throw new Error("unknown op");
  } catch (error) {
    return { error: safeMessage(error) };
  }
}

async function main() {
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
  for await (const line of lines) {
    if (line.trim() === "") {
      continue;
    }
    writeAnswer(JSON.stringify(await answer(line)) + "\n");
  }
}

main().catch((error) => {
  process.stderr.write(`gramjs_sessions.js failed: ${safeMessage(error)}\n`);
  process.exit(1);
});
