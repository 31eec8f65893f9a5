// An intercepted client's socket handed to an internal TLS server as a stream (ClientLeg), on
// real sockets: a front server plays the engine's client side (its sockets are the clients'
// sockets, already read past the ClientHello), an https.Server plays the internal server. What
// is checked here is what the engine relies on:
//  - the TLS socket Node makes for the stream leads back to it (`legOf`: Node keeps no public
//    link, so this is where a Node release that moves its internals shows first);
//  - the bytes read before the hand-off (the ClientHello) reach the server first;
//  - a client that closes mid-handshake ends the server's side (a refusal the engine can judge),
//    instead of holding it half-open;
//  - what the server writes goes out through the socket's own `write` (where the capture taps).
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Conn } from '../../src/proxy/conn.ts';
import { ClientLeg, keepLegLinks, legOf, linkingSni } from '../../src/proxy/tls-handoff.ts';
import { makeTestPki } from '../integration/helpers.ts';

const pki = makeTestPki();
const leaf = pki.leaf(['leg.test']);

/** What the front server handed over, per client. */
interface Handed {
  leg: ClientLeg;
  written: number;
}

describe('ClientLeg: a client socket handed to an internal TLS server', () => {
  const handed: Handed[] = [];
  const seenBySecure: (ClientLeg | null)[] = [];
  const seenByRequest: (ClientLeg | null)[] = [];
  const clientErrors: { code: string | undefined; leg: ClientLeg | null }[] = [];
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    seenByRequest.push(legOf(req.socket));
    res.end(`hello ${req.url ?? ''}`);
  };
  // As the engine does, so that the link outlives a socket closed mid-handshake: the SNI server
  // takes it in its SNICallback, the server for clients without SNI at the first keylog line.
  const sniServer = https.createServer(
    { key: leaf.keyPem, cert: leaf.certPem, SNICallback: linkingSni((_name, cb) => cb(null)) },
    onRequest,
  );
  const noSniServer = https.createServer({ key: leaf.keyPem, cert: leaf.certPem }, onRequest);
  keepLegLinks(noSniServer);
  for (const internal of [sniServer, noSniServer]) {
    internal.on('secureConnection', (s: tls.TLSSocket) => seenBySecure.push(legOf(s)));
    internal.on('tlsClientError', (err: NodeJS.ErrnoException, s: tls.TLSSocket) =>
      clientErrors.push({ code: err.code, leg: legOf(s) }),
    );
  }
  // The engine reads the ClientHello before it decides; here, the first chunk.
  const frontFor = (internal: https.Server): net.Server =>
    net.createServer({ allowHalfOpen: true }, (socket) => {
      socket.once('data', (head: Buffer) => {
        socket.pause();
        const entry: Handed = { leg: null as unknown as ClientLeg, written: 0 };
        const write = socket.write.bind(socket) as (...a: unknown[]) => boolean;
        socket.write = ((...args: unknown[]) => {
          entry.written += (args[0] as Buffer).length;
          return write(...args);
        }) as typeof socket.write;
        const conn = { socket } as unknown as Conn;
        entry.leg = new ClientLeg(conn, {} as http.IncomingMessage, head);
        handed.push(entry);
        internal.emit('connection', entry.leg);
      });
    });
  const fronts = { sni: frontFor(sniServer), 'no SNI': frontFor(noSniServer) };
  const ports = { sni: 0, 'no SNI': 0 };
  let port = 0;

  beforeAll(async () => {
    for (const kind of ['sni', 'no SNI'] as const) {
      const front = fronts[kind];
      await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
      ports[kind] = (front.address() as net.AddressInfo).port;
    }
    port = ports.sni;
  });
  afterAll(async () => {
    for (const front of Object.values(fronts)) front.close();
    sniServer.close();
    noSniServer.close();
  });

  it('serves a request; the TLS socket leads back to its stream; writes go out through the socket', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = https.get(
        {
          host: '127.0.0.1',
          port,
          servername: 'leg.test',
          ca: [pki.rootPem],
          path: '/first',
          headers: { host: 'leg.test' },
          agent: false,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve(text));
        },
      );
      req.on('error', reject);
    });
    expect(body).toBe('hello /first');
    const entry = handed.at(-1)!;
    expect(seenBySecure.at(-1)).toBe(entry.leg);
    expect(seenByRequest.at(-1)).toBe(entry.leg);
    // The ServerHello, the certificate and the response, all through the socket's write.
    expect(entry.written).toBeGreaterThan(leaf.certPem.length / 2);
  });

  it.each(['sni', 'no SNI'] as const)(
    'a client that closes mid-handshake (%s) is a TLS client error, linked to its stream; both sides close',
    async (kind) => {
      const before = clientErrors.length;
      await new Promise<void>((resolve) => {
        const raw = net.connect(ports[kind], '127.0.0.1', () => {
          // Does not trust the server: Node's TLS 1.3 client closes without an alert. An IP
          // as the host: no SNI.
          const t = tls.connect(
            kind === 'sni'
              ? { socket: raw, servername: 'leg.test' }
              : { socket: raw, host: '127.0.0.1' },
          );
          t.once('error', () => t.destroy());
        });
        raw.once('close', () => resolve());
      });
      const entry = handed.at(-1)!;
      await new Promise<void>((resolve) =>
        entry.leg.closed ? resolve() : entry.leg.once('close', () => resolve()),
      );
      await new Promise<void>((resolve) => {
        const check = (): void => {
          if (clientErrors.length > before) resolve();
          else setImmediate(check);
        };
        check();
      });
      expect(clientErrors.at(-1)).toEqual({ code: 'ECONNRESET', leg: entry.leg });
      expect(entry.leg.conn.socket.destroyed).toBe(true);
    },
  );

  it('a TLS socket that was not made for a stream of ours has no leg', async () => {
    const server = tls.createServer({ key: leaf.keyPem, cert: leaf.certPem });
    const found = new Promise<ClientLeg | null>((resolve) =>
      server.once('secureConnection', (s: tls.TLSSocket) => {
        resolve(legOf(s));
        s.destroy();
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port: direct } = server.address() as net.AddressInfo;
    const client = tls.connect({
      port: direct,
      host: '127.0.0.1',
      ca: [pki.rootPem],
      servername: 'leg.test',
    });
    client.on('error', () => undefined);
    expect(await found).toBeNull();
    client.destroy();
    server.close();
  });
});
