import type net from 'node:net';
import { Duplex, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  FairReads,
  HOLD_MAX_BYTES,
  MAX_WAIT_MS,
  NEW_CONNECTION_MS,
} from '../../src/proxy/fair-reads.ts';

/** A readable standing in for a client socket: what reached its consumer, in order. */
function fakeSocket(name: string, seen: string[]): net.Socket {
  const r = new Readable({ read: () => undefined });
  r.on('data', (d: Buffer) => seen.push(`${name}:${d.toString()}`));
  return r as unknown as net.Socket;
}

/** A client socket that can also be answered (written to). */
function fakeDuplex(name: string, seen: string[]): net.Socket {
  const d = new Duplex({ read: () => undefined, write: (_c, _e, done) => done() });
  d.on('data', (c: Buffer) => seen.push(`${name}:${c.toString()}`));
  return d as unknown as net.Socket;
}

/** Let what was pushed reach the consumer (a stream emits on a later tick at first). */
const tick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));

/** Let the check phase run (one turn). */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Make `socket` older than NEW_CONNECTION_MS without waiting (its accept time moves back). */
function addAged(fair: FairReads, socket: net.Socket): void {
  const now = performance.now;
  performance.now = () => now.call(performance) - NEW_CONNECTION_MS - 1;
  try {
    fair.add(socket);
  } finally {
    performance.now = now;
  }
}

describe('FairReads', () => {
  it('hands on at most its budget per turn, the rest in later turns, in order', async () => {
    const fair = new FairReads(2);
    const seen: string[] = [];
    const sockets = ['a', 'b', 'c', 'd', 'e'].map((n) => {
      const s = fakeSocket(n, seen);
      addAged(fair, s);
      return s;
    });
    await tick();
    const returned = sockets.map((s) => s.push(Buffer.from('1')));
    expect(returned).toEqual([true, true, true, true, true]); // they keep reading
    expect(fair.waiting).toBe(3);
    await tick();
    expect(seen).toEqual(['a:1', 'b:1']);
    await nextTurn();
    expect(seen).toEqual(['a:1', 'b:1', 'c:1', 'd:1']);
    await nextTurn();
    expect(seen).toEqual(['a:1', 'b:1', 'c:1', 'd:1', 'e:1']);
    expect(fair.waiting).toBe(0);
  });

  it("keeps a connection's chunks and its end in order behind the one that waits", async () => {
    const fair = new FairReads(1);
    const seen: string[] = [];
    const other = fakeSocket('other', seen);
    const s = fakeSocket('a', seen);
    let ended = false;
    s.on('end', () => (ended = true));
    fair.add(other);
    fair.add(s);
    await tick();
    other.push(Buffer.from('x')); // takes this turn's budget
    s.push(Buffer.from('1'));
    s.push(Buffer.from('2'));
    s.push(null);
    await tick();
    expect(seen).toEqual(['other:x']);
    for (let i = 0; i < 4; i++) await nextTurn();
    expect(seen).toEqual(['other:x', 'a:1', 'a:2']);
    expect(ended).toBe(true);
  });

  it('lets the rest of a stream through unheld (an upload is never stopped half-way)', async () => {
    const fair = new FairReads(1);
    const seen: string[] = [];
    const s = fakeSocket('up', seen);
    fair.add(s);
    await tick();
    for (let i = 1; i <= 5; i++) s.push(Buffer.from(String(i)));
    await tick();
    expect(seen).toEqual(['up:1', 'up:2', 'up:3', 'up:4', 'up:5']);
  });

  it('makes a request that follows an answer wait its turn, however quick the client', async () => {
    const fair = new FairReads(1);
    const seen: string[] = [];
    const quick = fakeDuplex('quick', seen);
    const other = fakeDuplex('other', seen);
    addAged(fair, quick);
    addAged(fair, other);
    await tick();
    quick.push(Buffer.from('GET 1')); // this turn's budget
    other.push(Buffer.from('GET 1')); // waits for the next turn
    quick.write('200 OK'); // the proxy answers the first request at once...
    quick.push(Buffer.from('GET 2')); // ...and the client sends its next one in the same turn
    await tick();
    expect(seen).toEqual(['quick:GET 1']);
    await nextTurn();
    expect(seen).toEqual(['quick:GET 1', 'other:GET 1']);
    await nextTurn();
    expect(seen).toEqual(['quick:GET 1', 'other:GET 1', 'quick:GET 2']);
  });

  it('still lets the rest of a stream through when nothing was written back', async () => {
    const fair = new FairReads(1);
    const seen: string[] = [];
    const up = fakeDuplex('up', seen);
    const other = fakeDuplex('other', seen);
    addAged(fair, up);
    addAged(fair, other);
    await tick();
    up.push(Buffer.from('POST'));
    other.push(Buffer.from('GET'));
    up.push(Buffer.from('body'));
    await tick();
    expect(seen).toEqual(['up:POST', 'up:body']);
  });

  it('hands a socket its waiting chunks at once, in order, past HOLD_MAX_BYTES', async () => {
    const fair = new FairReads(1);
    const seen: string[] = [];
    const other = fakeSocket('other', seen);
    const s = fakeSocket('a', seen);
    fair.add(other);
    fair.add(s);
    await tick();
    other.push(Buffer.from('x'));
    const half = HOLD_MAX_BYTES / 2;
    s.push(Buffer.alloc(half, 'a'));
    s.push(Buffer.alloc(half, 'b'));
    await tick();
    expect(seen.map((x) => x.slice(0, 3))).toEqual(['oth']);
    s.push(Buffer.alloc(1, 'c'));
    await tick();
    expect(seen.map((x) => x.slice(0, 3))).toEqual(['oth', 'a:a', 'a:b', 'a:c']);
    expect(fair.waiting).toBe(0);
    await nextTurn();
    expect(seen).toHaveLength(4); // nothing handed on twice
  });

  it('lets a new connection take turns with a queue of busy ones', async () => {
    const fair = new FairReads(2);
    const seen: string[] = [];
    const busy = Array.from({ length: 10 }, (_, i) => {
      const s = fakeSocket(`busy${i}`, seen);
      addAged(fair, s);
      return s;
    });
    const fresh = fakeSocket('new', seen);
    fair.add(fresh);
    await tick();
    for (const s of busy) s.push(Buffer.from('x'));
    fresh.push(Buffer.from('GET'));
    await nextTurn();
    // The budget went to busy0 and busy1 as they came; the next turn starts with the new one.
    expect(seen.slice(0, 4)).toEqual(['busy0:x', 'busy1:x', 'new:GET', 'busy2:x']);
  });

  it('hands on more than its budget rather than let a chunk wait past MAX_WAIT_MS', async () => {
    const fair = new FairReads(1);
    const seen: string[] = [];
    const now = performance.now;
    const t0 = now.call(performance);
    let offset = 0;
    performance.now = () => t0 + offset;
    try {
      const sockets = ['a', 'b', 'c', 'd'].map((n) => {
        const s = fakeSocket(n, seen);
        fair.add(s);
        return s;
      });
      await tick();
      for (const s of sockets) s.push(Buffer.from('1'));
      await tick();
      expect(seen).toEqual(['a:1']);
      offset = MAX_WAIT_MS + 1;
      await nextTurn();
      expect(seen).toEqual(['a:1', 'b:1', 'c:1', 'd:1']);
    } finally {
      performance.now = now;
    }
  });

  it('drops what waited for a socket that was destroyed', async () => {
    const fair = new FairReads(1);
    const seen: string[] = [];
    const a = fakeSocket('a', seen);
    const b = fakeSocket('b', seen);
    fair.add(a);
    fair.add(b);
    await tick();
    a.push(Buffer.from('1'));
    b.push(Buffer.from('1'));
    b.destroy();
    await nextTurn();
    expect(seen).toEqual(['a:1']);
    expect(fair.waiting).toBe(0);
  });
});
