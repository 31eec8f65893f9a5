// A minimal, honest forward proxy for testing the victim's client code on its own: absolute-URI
// HTTP requests are forwarded, CONNECT is a blind byte tunnel (what mitm-lab's `eavesdrop` mode
// does), and names are routed by the lab's resolve rules. It never terminates TLS, so whatever
// certificate the victim sees is the lab server's own.
import http from 'node:http';
import net from 'node:net';
import { listenLoopback } from '../../support/net.ts';

export interface Rule {
  pattern: string;
  address: string;
  ports: Record<number, number>;
}

export interface TunnelProxy {
  url: string;
  /** Every CONNECT target and absolute-URI request seen, in order. */
  seen: string[];
  close(): Promise<void>;
}

export async function startTunnelProxy(rules: Rule[]): Promise<TunnelProxy> {
  const seen: string[] = [];
  const route = (host: string, port: number) => {
    const r = rules.find((x) => x.pattern === host);
    return r ? { host: r.address, port: r.ports[port] ?? port } : null;
  };
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const u = new URL(req.url ?? '/');
    const to = route(u.hostname, Number(u.port || 80));
    if (!to) {
      res.writeHead(502).end('no route');
      return;
    }
    const up = http.request(
      {
        host: to.host,
        port: to.port,
        method: req.method,
        path: `${u.pathname}${u.search}`,
        headers: req.headers,
      },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      },
    );
    up.on('error', () => res.writeHead(502).end('upstream error'));
    req.pipe(up);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('connect', (req, client: net.Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    const [host = '', port = '443'] = (req.url ?? '').split(':');
    const to = route(host, Number(port));
    if (!to) {
      client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
      return;
    }
    const up = net.connect(to.port, to.host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    sockets.add(up);
    up.on('close', () => sockets.delete(up));
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
  });
  const port = await listenLoopback(server);
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
