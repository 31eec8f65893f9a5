// The live wire: while a client connection stays open, its capture goes out as it grows
// (`conn.wire` events carrying only what is new), throttled per connection.
import type { NewEvent } from '../events/types.ts';
import type { Conn } from './conn.ts';
import { nowMs } from './clock.ts';

/**
 * At most one `conn.wire` per connection per this many ms (plus one within EXCHANGE_WIRE_MS of
 * an `http.response`): often enough for a live Wire view, and each carries only what is new.
 */
export const WIRE_INTERVAL_MS = 500;
/**
 * After an `http.response` whose exchange the capture kept, a `conn.wire` goes out within this
 * many ms: at once when none went out in the last 50 ms; under load, one carries the exchanges
 * of 50 ms together. One per response was a third of a loaded proxy's events (a plain-HTTP
 * client's side fills its 64 KiB slowly: ~450 requests of a load test), and a viewer folds
 * every one; the terminal UI draws at most 20 times a second (issue 12).
 */
export const EXCHANGE_WIRE_MS = 50;

export class LiveWire {
  constructor(private readonly emit: (event: NewEvent) => void) {}

  /** Bytes crossed: schedule a `conn.wire` (throttled to one per WIRE_INTERVAL_MS). */
  changed(conn: Conn): void {
    this.schedule(conn, WIRE_INTERVAL_MS);
  }

  /**
   * A `conn.wire` once `interval` ms have passed since the last one: a timer, unless one is
   * already due as soon; a pending later one is brought forward.
   */
  private schedule(conn: Conn, interval: number): void {
    if (conn.closed) return;
    const now = nowMs();
    const due = Math.max(now, conn.lastWireAt + interval);
    if (conn.wireTimer) {
      if (conn.wireDueAt <= due) return;
      clearTimeout(conn.wireTimer);
    }
    conn.wireDueAt = due;
    conn.wireTimer = setTimeout(() => {
      conn.wireTimer = null;
      this.flush(conn);
    }, due - now);
    conn.wireTimer.unref();
  }

  /** Emit what the capture gained since the previous `conn.wire`, if anything. */
  flush(conn: Conn): void {
    if (conn.closed) return;
    if (conn.wireTimer) {
      clearTimeout(conn.wireTimer);
      conn.wireTimer = null;
    }
    const delta = conn.wire.delta();
    if (!delta) return;
    conn.lastWireAt = nowMs();
    this.emit({ type: 'conn.wire', connId: conn.id, ...delta });
  }

  /**
   * After an `http.response`: when the capture kept something new (the Wire view shows the
   * exchange with its response), emit within EXCHANGE_WIRE_MS, at once after a quiet spell;
   * when only counts moved — the capture is full, as on a long keep-alive connection — leave
   * them to the throttled one (issue 12: one `conn.wire` per request was a third of the events
   * a loaded proxy made).
   */
  afterResponse(conn: Conn): void {
    if (!conn.wire.grew) this.changed(conn);
    else if (nowMs() - conn.lastWireAt >= EXCHANGE_WIRE_MS) this.flush(conn);
    else this.schedule(conn, EXCHANGE_WIRE_MS);
  }

  /** The connection closed: drop its pending `conn.wire` (conn.close carries the rest). */
  stop(conn: Conn): void {
    if (conn.wireTimer) {
      clearTimeout(conn.wireTimer);
      conn.wireTimer = null;
    }
  }
}
