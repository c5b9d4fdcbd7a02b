// Client on Node `ws` that checks an echo server (Tether's interop tests).
const crypto = require('crypto');
const fs = require('fs');
const WebSocket = require('ws');

const url = process.argv[2];
const big = crypto.randomBytes(1 << 20);
const huge = Buffer.alloc(16 << 20, 7);
const script = [
  ['hello', false], ['héllo wörld ✓ 😀', false], ['', false],
  [Buffer.from([0, 1, 2]), true], [Buffer.alloc(0), true], [big, true], [huge, true],
];
const fail = (why) => { console.error(why); process.exit(1); };
setTimeout(() => fail('timeout'), 120_000).unref();

// wss://: trust the test CA named by TETHER_CA (a PEM file), nothing else.
const ca = process.env.TETHER_CA ? [fs.readFileSync(process.env.TETHER_CA)] : undefined;
const ws = new WebSocket(url, { maxPayload: 32 << 20, ca });
let step = 0;
const sendNext = () => {
  if (step < script.length) {
    const [data, binary] = script[step];
    ws.send(data, { binary });
  } else {
    ws.ping(Buffer.from('interop-ping'));
  }
};
ws.on('open', () => {
  // permessage-deflate is offered by default; say what the server agreed to.
  console.log(`extensions ${ws.extensions}`);
  sendNext();
});
ws.on('message', (data, isBinary) => {
  const [expected, binary] = script[step];
  const want = Buffer.isBuffer(expected) ? expected : Buffer.from(expected, 'utf8');
  if (isBinary !== binary || !Buffer.from(data).equals(want)) fail(`echo mismatch at step ${step}`);
  step += 1;
  sendNext();
});
ws.on('pong', (data) => {
  if (data.toString() !== 'interop-ping') fail('pong payload mismatch');
  ws.close(4001, 'bye from node');
});
ws.on('close', (code, reason) => {
  console.log(`closed ${code} ${reason.toString('utf8')}`);
  process.exit(step === script.length ? 0 : 1);
});
ws.on('error', (e) => fail(`error: ${e.message}`));
