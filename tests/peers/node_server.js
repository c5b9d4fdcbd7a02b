// Echo server on Node `ws` for Tether's interop tests (127.0.0.1 only).
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2]);
const wss = new WebSocketServer({ host: '127.0.0.1', port, maxPayload: 32 << 20 });
wss.on('listening', () => console.log('listening'));
wss.on('connection', (ws) => {
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
