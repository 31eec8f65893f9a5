// Loopback plumbing for tests: listen on 127.0.0.1 port 0, connect to it, and close a server
// together with every socket it still holds (server.close alone waits for them to end).
import { readFileSync } from 'node:fs';
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

/** The first port of the range the kernel hands out for port 0 and outgoing connections. */
function ephemeralLow(): number {
  try {
    const low = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0],
    );
    return Number.isInteger(low) && low > 0 ? low : 32768;
  } catch {
    return 32768; // not Linux: its usual default
  }
}

/** Listen on 127.0.0.1:port and close again: true when nothing held it. */
async function canListen(port: number): Promise<boolean> {
  const server = net.createServer();
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (ok) await closeServer(server);
  return ok;
}

/**
 * A port free on 127.0.0.1 right now, for a child process that must be told its --listen port
 * up front (or kept across a restart). It is drawn below the kernel's ephemeral range: a port
 * from that range can be taken in between by any listener on port 0 or any outgoing connection
 * of the test run (seen: a lab restarted on its port met EADDRINUSE), one below it only by a
 * process that names it.
 */
export async function freePort(): Promise<number> {
  const low = 20_000;
  const high = ephemeralLow();
  for (let attempt = 0; high - low > 100 && attempt < 50; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await canListen(port)) return port;
  }
  const server = net.createServer(); // no room below the range: one the kernel picks
  const port = await listenLoopback(server);
  await closeServer(server);
  return port;
}
