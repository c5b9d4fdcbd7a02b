// Echo server on Node `ws` for Tether's interop tests (127.0.0.1 only).
const { WebSocketServer } = require('ws');

// `node_server.js PORT [deflate|deflate-nct|deflate-bits]`: permessage-deflate off (ws's
// server default), on, on with server_no_context_takeover, or on asking the client for a
// 2^10 window.
const port = Number(process.argv[2]);
const deflate = {
  deflate: true,
  'deflate-nct': { serverNoContextTakeover: true, threshold: 0 },
  'deflate-bits': { clientMaxWindowBits: 10, threshold: 0 },
}[process.argv[3]] || false;
const wss = new WebSocketServer({ host: '127.0.0.1', port, maxPayload: 32 << 20, perMessageDeflate: deflate });
wss.on('listening', () => console.log('listening'));
wss.on('connection', (ws) => {
  console.log(`extensions ${ws.extensions}`);
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? null : data.toString('utf8');
    if (text !== null && text.startsWith('close:')) {
      const [, code, ...rest] = text.split(':');
      ws.close(Number(code), rest.join(':'));
      return;
    }
    ws.send(data, { binary: isBinary });
  });
  ws.on('close', (code, reason) => console.log(`closed ${code} ${reason.toString('utf8')}`));
});
setTimeout(() => process.exit(0), 120_000).unref(); // bounded lifetime
