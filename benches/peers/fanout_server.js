// Fan-out server on Node `ws`, the way its README broadcasts: the connection on path /pub
// publishes, and each message is sent to every other open client in `wss.clients`.
// 127.0.0.1 only; bounded lifetime. Usage: node fanout_server.js PORT
// (prints `listening on ws://127.0.0.1:PORT`).
const { WebSocketServer, WebSocket } = require('ws');

const port = Number(process.argv[2]);
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false });
wss.on('listening', () => console.log(`listening on ws://127.0.0.1:${port}`));
wss.on('connection', (ws, req) => {
  if (req.url !== '/pub') return;
  ws.on('message', (data, isBinary) => {
    for (const client of wss.clients) {
      if (client !== ws && client.readyState === WebSocket.OPEN) {
        client.send(data, { binary: isBinary });
      }
    }
  });
});
setTimeout(() => process.exit(0), 600_000).unref();
