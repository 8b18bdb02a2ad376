// Local bench server: serves the bench page and the wasm package over HTTP
// and floods each WebSocket with pre-generated frames. The flood is encoded
// once as raw WebSocket frames (unmasked text, as a server sends them) and
// written to the TCP socket in one call, so the server costs nothing per
// message and is never the bottleneck. `ws` only does the handshake and reads
// the client's frames: the flood starts when the client sends
// {"type":"bench_start"}, at full speed, or paced when it adds `"rate"`
// (frames per second, written every 10 ms); everything else (e.g.
// `subscribe`) is ignored.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { WebSocketServer } from 'ws';

function wsFrame(text) {
  const payload = Buffer.from(text, 'utf8');
  const n = payload.length;
  let header;
  if (n < 126) header = Buffer.from([0x81, n]);
  else if (n < 65536) header = Buffer.from([0x81, 126, n >> 8, n & 255]);
  else {
    header = Buffer.alloc(10);
    header[0] = 0x81;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([header, payload]);
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm' };

/**
 * Start the server on 127.0.0.1 (free port). `files` maps URL prefixes to
 * directories; `stream` is frames.mjs's `generate()` result.
 */
export async function startServer({ files, stream }) {
  const encoded = stream.frames.map(wsFrame);
  const flood = Buffer.concat(encoded);
  const timers = new Set();
  const paced = (socket, rate) => {
    const t0 = performance.now();
    let sent = 0;
    const timer = setInterval(() => {
      const due = Math.min(encoded.length, Math.floor(((performance.now() - t0) * rate) / 1000));
      if (due > sent) socket.write(Buffer.concat(encoded.slice(sent, due)));
      sent = due;
      if (sent >= encoded.length || socket.destroyed) {
        clearInterval(timer);
        timers.delete(timer);
      }
    }, 10);
    timers.add(timer);
  };
  const http = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    for (const [prefix, dir] of Object.entries(files)) {
      if (!path.startsWith(prefix)) continue;
      const rel = normalize(path.slice(prefix.length) || 'index.html');
      if (rel.startsWith('..')) break;
      try {
        const body = await readFile(join(dir, rel));
        res.writeHead(200, { 'content-type': TYPES[extname(rel)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
        res.end(body);
        return;
      } catch {
        break;
      }
    }
    res.writeHead(404).end('not found');
  });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  http.on('upgrade', (req, socket, head) => {
    if (!req.url.startsWith('/ws')) return socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.send(stream.connected);
      ws.on('message', (data) => {
        const text = String(data);
        if (!text.includes('"bench_start"')) return;
        const { rate } = JSON.parse(text);
        if (rate) paced(ws._socket, rate);
        else ws._socket.write(flood);
      });
    });
  });
  await new Promise((r) => http.listen(0, '127.0.0.1', r));
  const { port } = http.address();
  return {
    port,
    close: () =>
      new Promise((r) => {
        for (const t of timers) clearInterval(t);
        for (const c of wss.clients) c.terminate();
        http.closeAllConnections?.();
        http.close(r);
      }),
  };
}
