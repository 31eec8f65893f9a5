// The live wire: while a client connection stays open, its capture goes out as it grows
// (`conn.wire` events carrying only what is new), throttled per connection.
import type { NewEvent } from '../events/types.ts';
import type { Conn } from './conn.ts';
import { nowMs } from './clock.ts';

/**
 * At most one `conn.wire` per connection per this many ms (plus one right after each
 * `http.response`): often enough for a live Wire view, and each carries only what is new.
 */
export const WIRE_INTERVAL_MS = 500;

export class LiveWire {
  constructor(private readonly emit: (event: NewEvent) => void) {}

  /** Bytes crossed: schedule a `conn.wire` (throttled to one per WIRE_INTERVAL_MS). */
  changed(conn: Conn): void {
    if (conn.wireTimer || conn.closed) return;
    const wait = Math.max(0, conn.lastWireAt + WIRE_INTERVAL_MS - nowMs());
    conn.wireTimer = setTimeout(() => {
      conn.wireTimer = null;
      this.flush(conn);
    }, wait);
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
   * Right after an `http.response`: emit at once when the capture kept something new (the
   * Wire view shows the exchange with its response); when only counts moved — the capture is
   * full, as on a long keep-alive connection — leave them to the throttled one (issue 12: one
   * `conn.wire` per request was a third of the events a loaded proxy made).
   */
  afterResponse(conn: Conn): void {
    if (conn.wire.grew) this.flush(conn);
    else this.changed(conn);
  }

  /** The connection closed: drop its pending `conn.wire` (conn.close carries the rest). */
  stop(conn: Conn): void {
    if (conn.wireTimer) {
      clearTimeout(conn.wireTimer);
      conn.wireTimer = null;
    }
  }
}
