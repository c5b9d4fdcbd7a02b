// Echo server on Node `ws` with permessage-deflate, for the deflate echo benchmark: every
// text and binary message is sent back. Compression as the benchmark sets it for every
// server: level 6, memory level 8, 2^15 windows both ways, context takeover, every message
// compressed (ws leaves deflate off on servers and skips messages under 1 KiB by default).
// 127.0.0.1 only; bounded lifetime. Usage: node echo_deflate.js PORT
// (prints `listening on ws://127.0.0.1:PORT`).
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2]);
const wss = new WebSocketServer({
  host: '127.0.0.1',
  port,
  maxPayload: 64 << 20,
  perMessageDeflate: {
    zlibDeflateOptions: { level: 6, memLevel: 8 },
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
    threshold: 0,
  },
});
wss.on('listening', () => console.log(`listening on ws://127.0.0.1:${port}`));
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
setTimeout(() => process.exit(0), 600_000).unref();
