// The classroom server (`mitm-lab classroom`): students' mitm-lab processes connect over one
// WebSocket each with the class token in the URL and send their state (protocol.ts). Each
// accepted message becomes a class record (roster.ts folds them; `--events` keeps them). The
// token is compared in constant time and a wrong one gets a 401 with a sentence and nothing
// else (no hint whether a name exists); a student that stops answering pings is dropped (it
// reconnects by itself) without holding up the others.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from '../util/ws.ts';
import { CLOSE_BAD_MESSAGE, CLOSE_STALLED, parseStudentMessage } from './protocol.ts';
import type { ClassRecord } from './roster.ts';

/** How often a student is pinged, ms; one missed pong and it is dropped (it reconnects). */
export const PING_MS = 5000;
/** Bytes of one student message at most (a state is well under 4 KiB). */
const MAX_MESSAGE = 16 * 1024;

export interface ClassroomServerOptions {
  host: string;
  port: number;
  /** The class token; a new random one when absent. */
  token?: string;
  onRecord: (r: ClassRecord) => void;
  /** Ping interval, ms (tests shorten it). */
  pingMs?: number;
}

export interface ClassroomServer {
  host: string;
  port: number;
  token: string;
  /** The URL students give `--classroom` (host as given: a LAN address for a class). */
  url: string;
  /** Connections open now. */
  connected(): number;
  /** Join attempts refused for a wrong or missing token. */
  refused(): number;
  close(): Promise<void>;
}

/** A new class token: 18 random bytes, URL-safe. */
export function newClassToken(): string {
  return randomBytes(18).toString('base64url');
}

export async function startClassroomServer(opts: ClassroomServerOptions): Promise<ClassroomServer> {
  const token = opts.token ?? newClassToken();
  const tokenBuf = Buffer.from(token);
  const pingMs = opts.pingMs ?? PING_MS;
  let refused = 0;
  const now = () => new Date().toISOString();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE });
  const server = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end(
      'mitm-lab classroom: join with `npx mitm-lab start --classroom URL --name NAME` (the URL the instructor shows)\n',
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    let ok: boolean;
    try {
      const url = new URL(req.url ?? '/', 'ws://classroom');
      const given = Buffer.from(url.searchParams.get('token') ?? '');
      ok =
        url.pathname === '/' &&
        given.length === tokenBuf.length &&
        timingSafeEqual(given, tokenBuf);
    } catch {
      ok = false;
    }
    if (!ok) {
      refused++;
      socket.end(
        'HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n' +
          'wrong or missing class token: copy the join command the instructor shows\n',
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => welcome(ws));
  });

  const alive = new Map<WebSocket, { name: string | null; answered: boolean }>();

  function welcome(ws: WebSocket): void {
    const peer = { name: null as string | null, answered: true };
    alive.set(ws, peer);
    ws.on('pong', () => (peer.answered = true));
    ws.on('message', (data, isBinary) => {
      const state = isBinary ? null : parseStudentMessage(String(data));
      if (!state) {
        ws.close(CLOSE_BAD_MESSAGE, 'not a mitm-lab classroom message');
        return;
      }
      peer.name = state.name;
      peer.answered = true;
      opts.onRecord({ at: now(), kind: 'state', state });
    });
    const gone = (why: string) => {
      if (!alive.has(ws)) return;
      alive.delete(ws);
      const name = peer.name;
      // Another connection under the same name (a reconnect that overtook this close) keeps
      // the student connected.
      if (name && ![...alive.values()].some((p) => p.name === name))
        opts.onRecord({ at: now(), kind: 'left', name, why });
    };
    ws.on('close', (code) => gone(code === CLOSE_STALLED ? 'stalled' : 'closed'));
    ws.on('error', () => gone('error'));
  }

  // Heartbeat: a student that did not answer the last ping is stalled (a sleeping laptop, a
  // dead Wi-Fi): drop it; its mitm-lab reconnects and resends its state.
  const heartbeat = setInterval(() => {
    for (const [ws, peer] of alive) {
      if (!peer.answered) {
        ws.close(CLOSE_STALLED, 'no answer to ping: reconnect');
        setTimeout(() => ws.terminate(), 1000).unref();
        continue;
      }
      peer.answered = false;
      try {
        ws.ping();
      } catch {
        ws.terminate();
      }
    }
  }, pingMs);
  heartbeat.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const urlHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  opts.onRecord({ at: now(), kind: 'open', listen: `${urlHost}:${port}` });
  return {
    host: opts.host,
    port,
    token,
    url: `ws://${urlHost}:${port}/?token=${token}`,
    connected: () => alive.size,
    refused: () => refused,
    async close() {
      clearInterval(heartbeat);
      for (const ws of alive.keys()) ws.terminate();
      alive.clear();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
