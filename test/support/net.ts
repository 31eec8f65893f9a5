// Loopback plumbing for tests: listen on 127.0.0.1 port 0, connect to it, and close a server
// together with every socket it still holds (server.close alone waits for them to end).
import net from 'node:net';

/** Listen on 127.0.0.1, a free port chosen by the OS; resolves to that port. */
export async function listenLoopback(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** The sockets a server holds right now (kept up to date), for closeServer. */
export function trackSockets(server: net.Server): Set<net.Socket> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return sockets;
}

/** Destroy `sockets`, then close `server`; resolves once it has stopped listening. */
export function closeServer(server: net.Server, sockets: Iterable<net.Socket> = []): Promise<void> {
  return new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  });
}

/** A TCP connection to 127.0.0.1:port; resolves once connected, rejects on a connect error. */
export function connectLoopback(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}

/**
 * A port free on 127.0.0.1 right now (listen on 0, read it, close): for a child process that
 * must be told its --listen port up front. Another process could take it in between; on
 * loopback in a test run that does not happen in practice.
 */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  const port = await listenLoopback(server);
  await closeServer(server);
  return port;
}
