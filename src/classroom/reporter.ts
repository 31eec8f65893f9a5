// The student's side of the classroom (`start --classroom URL --name NAME`): folds the proxy's
// own events into lesson progress (src/lessons, the same fold as the Lessons panel) and flow
// counts by badge, and sends the whole state to the classroom after each change — coalesced,
// at most one message per SEND_GAP_MS. It reconnects by itself (the instructor's laptop may
// sleep) and resends its state; a classroom that is down, slow or gone never slows the proxy:
// nothing waits for it, and while it cannot take a message only the newest state is kept.
import { randomBytes } from 'node:crypto';
import type { EventBus } from '../events/bus.ts';
import type { ProxyEvent } from '../events/types.ts';
import { LessonProgress } from '../lessons/index.ts';
import { WebSocket } from '../util/ws.ts';
import {
  CLASSROOM_PROTOCOL,
  type Badge,
  type OutcomeCounts,
  type StudentState,
} from './protocol.ts';

/** Changes within this many ms go out as one message. */
const SEND_GAP_MS = 100;
/** Reconnect delays, ms: quick at first, then every 5 s for as long as the proxy runs. */
const RETRY_MS = [500, 1000, 2000, 5000] as const;
/** Above this many bytes queued on the socket, the classroom is not reading: skip a send. */
const MAX_QUEUED = 64 * 1024;

export interface ReporterOptions {
  url: string;
  name: string;
  bus: EventBus;
  /** A sentence about the connection (connected, lost, refused), for the proxy's output. */
  onStatus?: (text: string) => void;
}

export interface ClassroomReporter {
  /** The state as it would be sent now. */
  state(): StudentState;
  close(): void;
}

/** The one line `--classroom` prints: exactly what leaves the machine. */
export function classroomNotice(url: string, name: string): string {
  const host = (() => {
    try {
      return new URL(url).host;
    } catch {
      return url;
    }
  })();
  return (
    `classroom: sending to ${host} as "${name}" only which lab checkpoints are done and counts of ` +
    'flows by badge (plaintext, decrypted, refused, tunnelled); never URLs, headers, bodies, ' +
    'passwords, host names or keys (docs/classroom.md)'
  );
}

/** The badge one event adds a flow to, if any (as the UI's header counts them). */
function badgeOf(e: ProxyEvent): Badge | null {
  switch (e.type) {
    case 'http.request':
      return e.visibility === 'wire' ? 'plaintext' : 'decrypted';
    case 'tls.client-rejected':
      return 'refused';
    case 'tunnel.summary':
      return 'tunnelled';
    default:
      return null;
  }
}

export function startClassroomReporter(opts: ReporterOptions): ClassroomReporter {
  const run = randomBytes(6).toString('hex');
  let progress = new LessonProgress();
  let outcomes: OutcomeCounts = { plaintext: 0, decrypted: 0, refused: 0, tunnelled: 0 };
  let last: Badge | null = null;
  let seq = 0;
  let closed = false;
  let ws: WebSocket | null = null;
  let attempt = 0;
  let retry: ReturnType<typeof setTimeout> | null = null;
  let sendTimer: ReturnType<typeof setTimeout> | null = null;
  let unsent = true;
  const status = opts.onStatus ?? (() => undefined);

  const done = (): string[] =>
    progress
      .exercises()
      .flatMap((ex) => ex.checkpoints)
      .filter((c) => c.done)
      .map((c) => c.id);

  const state = (): StudentState => ({
    type: 'state',
    protocol: CLASSROOM_PROTOCOL,
    name: opts.name,
    seq,
    run,
    done: done(),
    outcomes: { ...outcomes },
    last,
  });

  function flush(): void {
    sendTimer = null;
    if (!ws || ws.readyState !== WebSocket.OPEN || ws.bufferedAmount > MAX_QUEUED) return;
    seq++;
    ws.send(JSON.stringify(state()));
    unsent = false;
  }

  function changed(): void {
    unsent = true;
    if (!sendTimer && !closed) {
      sendTimer = setTimeout(flush, SEND_GAP_MS);
      sendTimer.unref();
    }
  }

  const fresh = (): LessonProgress => {
    const p = new LessonProgress();
    p.onDone = () => changed(); // a new checkpoint is worth a message
    return p;
  };
  progress = fresh();

  const off = opts.bus.on((e) => {
    if (e.type === 'lab.reset') {
      progress = fresh();
      outcomes = { plaintext: 0, decrypted: 0, refused: 0, tunnelled: 0 };
      last = null;
      changed();
      return;
    }
    progress.apply(e);
    const badge = badgeOf(e);
    if (badge) {
      outcomes[badge]++;
      last = badge;
      changed();
    }
  });

  function connect(): void {
    if (closed) return;
    const socket = new WebSocket(opts.url, { handshakeTimeout: 5000, maxPayload: 64 * 1024 });
    ws = socket;
    socket.on('open', () => {
      attempt = 0;
      status(`classroom: connected to ${new URL(opts.url).host} as "${opts.name}"`);
      // Resend the whole state: the classroom may have restarted.
      unsent = true;
      flush();
    });
    socket.on('unexpected-response', (_req, res) => {
      status(
        res.statusCode === 401
          ? 'classroom: the class token was refused; check the join command (retrying)'
          : `classroom: the server answered ${res.statusCode} (retrying)`,
      );
      res.resume();
      socket.terminate();
    });
    socket.on('error', () => undefined); // 'close' follows and retries
    socket.on('close', () => {
      if (ws === socket) ws = null;
      if (closed) return;
      const delay = RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]!;
      if (attempt === 1) status('classroom: connection lost; reconnecting by itself');
      attempt++;
      retry = setTimeout(connect, delay);
      retry.unref();
    });
  }
  connect();
  // A send that was skipped (socket busy) goes out with the next change or this sweep.
  const sweep = setInterval(() => {
    if (unsent && !sendTimer) flush();
  }, 1000);
  sweep.unref();

  return {
    state,
    close() {
      closed = true;
      off();
      clearInterval(sweep);
      if (retry) clearTimeout(retry);
      if (sendTimer) clearTimeout(sendTimer);
      ws?.close(1001, 'the student proxy stopped');
      ws = null;
    },
  };
}
