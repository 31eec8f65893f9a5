// Fairness between client connections (issue 13, item 10). Since libuv 1.45 (Node 20) a
// listening socket accepts ONE connection per poll of the event loop (libuv PR #3696), and a
// poll hands the loop every socket that is ready. With 1,000 busy keep-alive connections each
// turn of the loop proxied a request for each of them first — hundreds of milliseconds — so new
// connections were accepted a few a second and waited in the kernel's backlog for tens of
// seconds (first response p50 23 s, p99 30 s), and HTTPS clients opening in a burst gave up.
//
// So what client sockets read is handed on (to the HTTP parser, the CONNECT logic, a tunnel)
// at most CHUNKS_PER_TURN chunks per turn of the loop; the others wait, in order, for a later
// turn. Turns stay short whatever the number of busy connections, and each turn accepts one more
// connection. The chunks of a new connection (its request, or its CONNECT and handshake) take
// turns with those of connections already served rather than wait behind them all, so a new
// client gets its first response quickly even beside a thousand busy ones.
//
// A socket keeps reading while its chunk waits (up to HOLD_MAX_BYTES): a busy keep-alive client
// has nothing more to send until it is answered, so a waiting socket costs the poll nothing;
// and a socket must never stop reading in the middle of what its client sends, because a socket
// closed with bytes unread is reset, and the client loses the answer it was sent (a 431, say).
// For the same reason the rest of a stream (an upload, a large header: chunks that follow one
// handed on in this turn or the last, with nothing written to the client in between) is costed
// but never held. A chunk that follows an answer is a new request, even when the answer came
// quickly: it waits its turn like the others (issue 12: with 500 busy keep-alive connections,
// those whose client answered within a turn went round again and again ahead of the queue, and
// the others waited all the longer: p99 ~3× the mean). Nothing is dropped or reordered within
// a connection; a socket that is destroyed drops what waited for it.
import type net from 'node:net';

/**
 * Client chunks (reads of up to 64 KiB) handed on per turn of the event loop. Each costs up to
 * ~1 ms of proxying (a request: parsing, events, the upstream leg), so a turn stays within a few
 * milliseconds and a saturated proxy still accepts a hundred connections a second or more;
 * measured, 8 served 1,000 busy connections with new ones answered in 0.1 s (p99) where 32 took
 * 0.9 s on a loaded machine.
 */
export const CHUNKS_PER_TURN = 8;

/**
 * How long after its accept a connection counts as new: its chunks take turns with the others'
 * rather than wait behind them. Time, not a number of chunks: a busy keep-alive connection sends
 * one chunk per request, and hundreds of them must not count as new. A second covers a CONNECT,
 * a TLS handshake and a first request on a loaded proxy.
 */
export const NEW_CONNECTION_MS = 1_000;

/**
 * No chunk waits longer than this: past it, a turn hands on more than its share. Half the idle
 * time after which Node closes a keep-alive connection (5 s): a request that waited here must
 * not find its connection closed. Once the proxy is simply overloaded, longer turns leave new
 * clients in the kernel's backlog, before the accept, where they cost nothing and none of the
 * proxy's time limits runs yet.
 */
export const MAX_WAIT_MS = 2_500;

/**
 * What one socket may have waiting, in bytes (the size of the wire capture per direction): past
 * it, its chunks are handed on at once rather than held in memory (or left unread).
 */
export const HOLD_MAX_BYTES = 64 * 1024;

type Push = (chunk: unknown, encoding?: BufferEncoding) => boolean;

/**
 * A place in a queue for one waiting chunk of a socket. Tickets of a socket are interchangeable:
 * whichever comes up first hands on that socket's oldest chunk, so its order always holds.
 */
interface Ticket {
  /** When its chunk arrived (performance.now()). */
  at: number;
  /** Used up already (its socket's chunks went out of turn: see HOLD_MAX_BYTES): skipped. */
  done: boolean;
  /** Hand on the socket's oldest waiting chunk (this ticket is used up). */
  next: (used: Ticket) => void;
}

export class FairReads {
  /** Chunks handed on in this turn. */
  private spent = 0;
  /** Turns so far (one per check phase with work: see scheduleTurn). */
  private turn = 0;
  private turnScheduled = false;
  /** Tickets of new connections (NEW_CONNECTION_MS), and of the others. */
  private readonly first: Ticket[] = [];
  private readonly later: Ticket[] = [];
  /** Tickets not used up. */
  private count = 0;
  /** Chunks handed on since start: how much the clients asked of the proxy. */
  private total = 0;

  constructor(private readonly perTurn = CHUNKS_PER_TURN) {}

  /** Chunks waiting for a turn (for tests). */
  get waiting(): number {
    return this.count;
  }

  /** Chunks read from clients and handed on since start (./memory-release.ts watches it). */
  get chunks(): number {
    return this.total;
  }

  /** Route what `socket` reads through the turns (before anyone reads it). */
  add(socket: net.Socket): void {
    const push = socket.push as Push;
    const accepted = performance.now();
    /** This socket's waiting chunks, oldest first (the end of the stream too), and tickets. */
    const chunks: { chunk: unknown; encoding: BufferEncoding | undefined; size: number }[] = [];
    const tickets: Ticket[] = [];
    let heldBytes = 0;
    /** The turn in which its last chunk was handed on. */
    let lastTurn = -Infinity;
    /** The proxy wrote to the client since its last chunk was handed on (it was answered). */
    let answered = false;
    const write = socket.write as ((...args: unknown[]) => boolean) | undefined;
    if (typeof write === 'function') {
      socket.write = function answer(this: net.Socket, ...args: unknown[]): boolean {
        answered = true;
        return write.apply(this, args);
      } as typeof socket.write;
    }
    const handOn = (chunk: unknown, encoding: BufferEncoding | undefined): boolean => {
      if (chunk !== null && chunk !== undefined) {
        lastTurn = this.turn;
        answered = false;
        this.total++;
      }
      return socket.destroyed ? false : push.call(socket, chunk, encoding);
    };
    const next = (used: Ticket): void => {
      tickets.splice(tickets.indexOf(used), 1);
      const c = chunks.shift();
      if (!c) return;
      heldBytes -= c.size;
      handOn(c.chunk, c.encoding);
    };
    socket.push = ((chunk: unknown, encoding?: BufferEncoding): boolean => {
      const eof = chunk === null || chunk === undefined;
      const size = eof ? 0 : Buffer.byteLength(chunk as Buffer | string, encoding);
      if (chunks.length === 0) {
        if (eof) return handOn(chunk, encoding);
        // The rest of a stream the client is sending: costed, never held.
        if (this.turn - lastTurn <= 1 && !answered) {
          this.charge();
          return handOn(chunk, encoding);
        }
        if (this.take()) return handOn(chunk, encoding);
      } else if (heldBytes + size > HOLD_MAX_BYTES) {
        // Too much waiting for one socket: all of it goes now, in order, and this with it.
        const outOfTurn = tickets.splice(0);
        for (const t of outOfTurn) t.done = true;
        this.count -= outOfTurn.length;
        while (chunks.length > 0) {
          const c = chunks.shift()!;
          handOn(c.chunk, c.encoding);
        }
        heldBytes = 0;
        this.charge();
        return handOn(chunk, encoding);
      }
      chunks.push({ chunk, encoding, size });
      heldBytes += size;
      const at = performance.now();
      const ticket: Ticket = { at, done: false, next };
      tickets.push(ticket);
      this.count++;
      (at - accepted < NEW_CONNECTION_MS ? this.first : this.later).push(ticket);
      this.scheduleTurn();
      return true; // keep reading: see HOLD_MAX_BYTES
    }) as typeof socket.push;
  }

  /** When the longest-waiting chunk arrived (Infinity: none waits). */
  private oldest(): number {
    return Math.min(this.head(this.first)?.at ?? Infinity, this.head(this.later)?.at ?? Infinity);
  }

  /** The first ticket of `queue` not used up (dropping those that are). */
  private head(queue: Ticket[]): Ticket | undefined {
    while (queue.length > 0 && queue[0]!.done) queue.shift();
    return queue[0];
  }

  /** One more chunk may be handed on in this turn. */
  private take(): boolean {
    if (this.spent >= this.perTurn) return false;
    this.charge();
    return true;
  }

  /** A chunk was handed on in this turn. */
  private charge(): void {
    this.spent++;
    this.scheduleTurn();
  }

  /**
   * A new turn begins after this one's I/O (setImmediate: the check phase, right after the
   * poll): the budget starts again and waiting chunks go first. What is still waiting then
   * waits for the next turn, after the next poll — which accepts one more connection.
   */
  private scheduleTurn(): void {
    if (this.turnScheduled) return;
    this.turnScheduled = true;
    setImmediate(() => {
      this.turnScheduled = false;
      this.turn++;
      this.spent = 0;
      // New connections and the others take turns, so neither queue can starve the other: a
      // flood of new connections still leaves busy ones half of every turn.
      let fromFirst = true;
      const overdue = performance.now() - MAX_WAIT_MS;
      while (this.spent < this.perTurn || this.oldest() < overdue) {
        const ticket = fromFirst
          ? (this.head(this.first) ?? this.head(this.later))
          : (this.head(this.later) ?? this.head(this.first));
        if (!ticket) break;
        fromFirst = !fromFirst;
        ticket.done = true;
        this.count--;
        this.spent++;
        ticket.next(ticket);
      }
      if (this.count > 0 || this.spent > 0) this.scheduleTurn();
    });
  }
}
