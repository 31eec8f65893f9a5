// Exercise progress as a pure fold of events: the same code serves the live UI, an events file
// (`mitm-lab check`) and a viewer attached over the feed. Each checkpoint is a predicate over
// events only, strict enough not to fire when its step was not done: a refusal from curl does
// not tick "a browser refused"; a decrypted request does not tick "a password over plain HTTP".
import type { Header, HttpRequestEvent, ProxyEvent, TunnelSummaryEvent } from '../events/types.ts';
import { addBounded } from '../util/bounded.ts';
import { EXERCISES, type Checkpoint, type Exercise } from './exercises.ts';

/** Clients that are browsers, as the engine guesses them from the ClientHello. */
const BROWSER_HINTS: ReadonlySet<string> = new Set(['chromium', 'chrome', 'firefox']);
/** A browser's User-Agent, for plain HTTP (no ClientHello to guess from). */
const BROWSER_UA = /\b(Mozilla\/5\.0)\b.*\b(Chrome|Chromium|Firefox|Safari)\//;
/** The lab bank, and its gallery of broken hosts (every other name under it). */
const BANK = 'bank.test';
const isGallery = (host: string): boolean => host.endsWith(`.${BANK}`);
/** A lab name (every lab site is under `.test`): a browser's own background hosts are not. */
const isLabName = (host: string): boolean => host.endsWith('.test');
/** A tunnel made because the proxy runs in eavesdrop mode. */
const isEavesdropped = (e: ProxyEvent): e is TunnelSummaryEvent =>
  e.type === 'tunnel.summary' && e.reason === 'mode-eavesdrop';
/** Entries each memory of the fold keeps at most (connections, flows, hosts): bounded. */
const MAX_REMEMBERED = 10_000;
/** The lab's HSTS host: valid, and its responses carry Strict-Transport-Security. */
const HSTS_HOST = 'hsts.bank.test';

function header(headers: Header[], name: string): string | null {
  const n = name.toLowerCase();
  return headers.find(([k]) => k.toLowerCase() === n)?.[1] ?? null;
}

function bodyText(e: HttpRequestEvent): string {
  return 'text' in e.body ? e.body.text : e.body.bytes.toString('latin1');
}

const isPasswordPost = (e: HttpRequestEvent): boolean =>
  e.method === 'POST' && /(^|&)password=/.test(bodyText(e));

/**
 * A response that sets an HSTS policy (a max-age above 0). Over plain HTTP a browser ignores
 * the header (RFC 6797 §8.1), so only a response the proxy decrypted counts: in eavesdrop mode,
 * or on any tunnel, the header crosses inside TLS and no event holds it.
 */
function setsHsts(e: ProxyEvent): boolean {
  if (e.type !== 'http.response' || e.visibility !== 'proxy-only') return false;
  const m = /(?:^|;)\s*max-age\s*=\s*"?(\d+)/i.exec(
    header(e.headers, 'strict-transport-security') ?? '',
  );
  return m !== null && Number(m[1]) > 0;
}

/** A transfer to bank.test that a tamper rule changed, seen with this visibility. */
function isTamperedTransfer(e: ProxyEvent, visibility: 'wire' | 'proxy-only'): boolean {
  return (
    e.type === 'http.request' &&
    e.visibility === visibility &&
    e.host === BANK &&
    e.method === 'POST' &&
    e.path.split('?')[0] === '/transfer' &&
    (e.tampered ?? null) !== null
  );
}

/** What the fold remembers between events. */
interface Memory {
  /** connId → the client hint of its ClientHello. */
  hints: Map<string, string | null>;
  /** Gallery hosts tried (a refusal, a tunnel, an upstream failure or a response). */
  galleryHosts: Set<string>;
  /** Connections whose client accepted the forged certificate (intercepted), until they close. */
  intercepted: Set<string>;
  /** flowId → host of its request (a response carries no host of its own). */
  flowHosts: Map<string, string>;
  /** Hosts seen sending Strict-Transport-Security in a response the proxy decrypted. */
  hstsHosts: Set<string>;
  /** Connections that carried a decrypted request, and those tunnelled (both bounded). */
  decryptedConns: Set<string>;
  tunnelledConns: Set<string>;
  /**
   * The session writes a pcapng capture and the key log (the last `proxy.listening` says so).
   * Kept across `lab.reset`: R does not stop the files.
   */
  recording: boolean;
  /** The session applies tamper rules (the last `proxy.listening` says so); kept across reset. */
  tampering: boolean;
}

const freshMemory = (): Memory => ({
  hints: new Map(),
  galleryHosts: new Set(),
  intercepted: new Set(),
  flowHosts: new Map(),
  hstsHosts: new Set(),
  decryptedConns: new Set(),
  tunnelledConns: new Set(),
  recording: false,
  tampering: false,
});

/** An intercepted connection's end, with the TLS version its client leg used. */
const interceptedClose = (e: ProxyEvent, m: Memory, version: string): boolean =>
  e.type === 'conn.close' && m.intercepted.has(e.connId) && e.wire.tlsVersion === version;

type Check = (e: ProxyEvent, m: Memory) => boolean;

/** Every checkpoint's predicate, by id (the text is in exercises.ts). */
const CHECKS: Readonly<Record<string, Check>> = {
  '1.password-over-http': (e) =>
    e.type === 'http.request' && e.visibility === 'wire' && isPasswordPost(e),
  '1.cookie-over-http': (e) =>
    e.type === 'http.response' &&
    e.visibility === 'wire' &&
    header(e.headers, 'set-cookie') !== null,
  '1.browser-over-http': (e) =>
    e.type === 'http.request' &&
    e.visibility === 'wire' &&
    BROWSER_UA.test(header(e.headers, 'user-agent') ?? ''),
  '2.forgery-refused': (e) => e.type === 'tls.client-rejected' && (e.sni ?? e.host) === BANK,
  '2.real-site-tunnelled': (e) =>
    e.type === 'tunnel.summary' &&
    (e.sni ?? e.host) === BANK &&
    e.reason === 'auto-refused-before' &&
    e.clientVerdict?.outcome === 'accepted',
  '2.browser-refused': (e, m) =>
    e.type === 'tls.client-rejected' &&
    BROWSER_HINTS.has(e.clientHint ?? m.hints.get(e.connId) ?? ''),
  '3.password-decrypted': (e) =>
    e.type === 'http.request' && e.visibility === 'proxy-only' && isPasswordPost(e),
  '3.broken-server-refused': (e) =>
    e.type === 'upstream.error' && e.status === 502 && isGallery(e.host),
  '4.real-certificate-refused': (e) =>
    e.type === 'tunnel.summary' &&
    isGallery(e.sni ?? e.host) &&
    e.clientVerdict !== undefined &&
    e.clientVerdict.outcome !== 'accepted' &&
    e.clientVerdict.outcome !== 'unknown' &&
    e.clientVerdict.sentBy !== 'server',
  '4.three-hosts': (_e, m) => m.galleryHosts.size >= 3,
  // Exercise 5 is done in eavesdrop mode: a tunnel the mode made (not auto mode's retry).
  '5.program-observed': (e, m) =>
    isEavesdropped(e) &&
    (e.sni ?? e.host) === BANK &&
    m.hints.get(e.connId) === 'node' &&
    e.clientVerdict?.outcome === 'accepted',
  '5.browser-observed': (e, m) =>
    isEavesdropped(e) &&
    isLabName(e.sni ?? e.host) &&
    BROWSER_HINTS.has(m.hints.get(e.connId) ?? ''),
  '5.certificate-in-clear': (e) => isEavesdropped(e) && (e.serverCertificates?.length ?? 0) > 0,
  // Exercise 6: the forged leg in TLS 1.2 (--client-tls-max 1.2 or v) and in TLS 1.3.
  '6.forged-certificate-in-clear': (e, m) =>
    interceptedClose(e, m, 'TLS 1.2') &&
    e.type === 'conn.close' &&
    (e.wire.serverCertificates?.length ?? 0) > 0,
  '6.forged-certificate-hidden': (e, m) =>
    interceptedClose(e, m, 'TLS 1.3') &&
    e.type === 'conn.close' &&
    (e.wire.serverCertificates?.length ?? 0) === 0,
  // Exercise 7: HSTS. The browser's first visit is tunnelled (eavesdrop mode): it stores the
  // policy, and the proxy, holding no key, cannot read the header. Only a device that trusts the
  // mitm-lab CA lets the proxy read it — where HSTS no longer helps.
  '7.policy-stored': (e, m) =>
    isEavesdropped(e) &&
    (e.sni ?? e.host) === HSTS_HOST &&
    BROWSER_HINTS.has(m.hints.get(e.connId) ?? '') &&
    e.clientVerdict?.outcome === 'accepted',
  '7.header-read': (e) => setsHsts(e),
  '7.hsts-refused': (e, m) =>
    e.type === 'tls.client-rejected' &&
    BROWSER_HINTS.has(e.clientHint ?? m.hints.get(e.connId) ?? '') &&
    m.hstsHosts.has(e.sni ?? e.host),
  '7.plain-refused': (e, m) =>
    e.type === 'tls.client-rejected' &&
    BROWSER_HINTS.has(e.clientHint ?? m.hints.get(e.connId) ?? '') &&
    isLabName(e.sni ?? e.host) &&
    !m.hstsHosts.has(e.sni ?? e.host),
  '7.trusted-ca': (e, m) =>
    e.type === 'http.request' &&
    e.visibility === 'proxy-only' &&
    m.hstsHosts.has(e.host) &&
    BROWSER_UA.test(header(e.headers, 'user-agent') ?? ''),
  // Exercise 8: the pcap sink writes a connection when it closes, so a connection counts at its
  // conn.close, in a session that writes both files.
  '8.recording': (_e, m) => m.recording,
  '8.decryptable': (e, m) =>
    e.type === 'conn.close' && m.recording && m.decryptedConns.has(e.connId),
  '8.opaque': (e, m) => e.type === 'conn.close' && m.recording && m.tunnelledConns.has(e.connId),
  // Exercise 9: --tamper. The transfer's POST carries the mark when a rule changed it; a
  // refused forgery and a later tunnel to bank.test, in a session with rules on, is the device
  // whose transfer nobody could touch.
  '9.tampering': (_e, m) => m.tampering,
  '9.changed-over-http': (e) => isTamperedTransfer(e, 'wire'),
  '9.changed-over-https': (e) => isTamperedTransfer(e, 'proxy-only'),
  '9.untouchable': (e, m) =>
    m.tampering &&
    e.type === 'tunnel.summary' &&
    (e.sni ?? e.host) === BANK &&
    e.reason === 'auto-refused-before' &&
    e.clientVerdict?.outcome === 'accepted',
  '4.browser-warning': (e, m) =>
    e.type === 'tunnel.summary' &&
    isGallery(e.sni ?? e.host) &&
    BROWSER_HINTS.has(m.hints.get(e.connId) ?? '') &&
    e.clientVerdict !== undefined &&
    e.clientVerdict.outcome !== 'accepted' &&
    e.clientVerdict.outcome !== 'unknown',
};

/** A checkpoint as done or not, and when. */
export interface CheckpointProgress {
  id: string;
  title: string;
  hint: string;
  done: boolean;
  /** The event that ticked it (its id and time), when done. */
  by: { eventId: string; at: string } | null;
}

export interface ExerciseProgress {
  id: string;
  title: string;
  done: boolean;
  checkpoints: CheckpointProgress[];
}

/** The fold: feed events in order with `apply`; read `exercises()` at any time. */
export class LessonProgress {
  private memory: Memory = freshMemory();
  private readonly ticked = new Map<string, { eventId: string; at: string }>();
  /** Called with each checkpoint the moment it becomes done (the UI announces it). */
  onDone: ((c: CheckpointProgress, exercise: Exercise) => void) | null = null;
  /** Called when a `lab.reset` event restarts progress. */
  onReset: (() => void) | null = null;

  /**
   * The checkpoints not ticked yet, each with its predicate, in the list's order: resolved once,
   * so an event costs a call per open checkpoint and no lookup by id (every event of a load test
   * runs through here in the UI and in a viewer, issue 12).
   */
  private open: Array<{ exercise: Exercise; checkpoint: Checkpoint; check: Check }> = [];

  constructor(private readonly list: readonly Exercise[] = EXERCISES) {
    this.reopen();
  }

  private reopen(): void {
    this.open = this.list.flatMap((exercise) =>
      exercise.checkpoints.flatMap((checkpoint) => {
        const check = CHECKS[checkpoint.id];
        return check ? [{ exercise, checkpoint, check }] : [];
      }),
    );
  }

  apply(e: ProxyEvent): void {
    if (e.type === 'lab.reset') {
      // Progress counts what was done since the last reset (the UI's R).
      this.ticked.clear();
      this.reopen();
      // The files a session writes go on after R: keep knowing that.
      const { recording, tampering } = this.memory;
      this.memory = freshMemory();
      this.memory.recording = recording;
      this.memory.tampering = tampering;
      this.onReset?.();
      return;
    }
    this.remember(e);
    let ticked = false;
    for (const o of this.open) {
      if (this.ticked.has(o.checkpoint.id) || !o.check(e, this.memory)) continue;
      const by = { eventId: e.id, at: e.at };
      this.ticked.set(o.checkpoint.id, by);
      ticked = true;
      this.onDone?.({ ...o.checkpoint, done: true, by }, o.exercise);
    }
    if (ticked) this.open = this.open.filter((o) => !this.ticked.has(o.checkpoint.id));
    // A connection's last event: what was remembered of it goes (after the checks used it).
    if (e.type === 'conn.close') this.memory.intercepted.delete(e.connId);
  }

  private remember(e: ProxyEvent): void {
    const m = this.memory;
    if (e.type === 'tls.client-hello') addBounded(m.hints, MAX_REMEMBERED, e.connId, e.clientHint);
    if (e.type === 'proxy.listening') {
      m.recording = e.pcap && e.keylog;
      m.tampering = (e.tamper?.length ?? 0) > 0;
    }
    if (e.type === 'http.request') {
      addBounded(m.flowHosts, MAX_REMEMBERED, e.flowId, e.host);
      if (e.visibility === 'proxy-only') addBounded(m.decryptedConns, MAX_REMEMBERED, e.connId);
    }
    if (e.type === 'tunnel.summary') addBounded(m.tunnelledConns, MAX_REMEMBERED, e.connId);
    if (setsHsts(e) && e.type === 'http.response') {
      const host = m.flowHosts.get(e.flowId);
      if (host !== undefined) addBounded(m.hstsHosts, MAX_REMEMBERED, host);
    }
    if (e.type === 'tls.client-accepted' && m.intercepted.size < MAX_REMEMBERED)
      m.intercepted.add(e.connId);
    const host =
      e.type === 'tls.client-rejected' || e.type === 'tunnel.summary'
        ? (e.sni ?? e.host)
        : e.type === 'upstream.error' || e.type === 'http.request'
          ? e.host
          : null;
    if (host !== null && isGallery(host)) m.galleryHosts.add(host);
  }

  exercises(): ExerciseProgress[] {
    return this.list.map((ex) => {
      const checkpoints = ex.checkpoints.map((c) => {
        const by = this.ticked.get(c.id) ?? null;
        return { ...c, done: by !== null, by };
      });
      return {
        id: ex.id,
        title: ex.title,
        done: checkpoints.every((c) => c.done),
        checkpoints,
      };
    });
  }
}

/** Progress over a finished list of events. */
export function foldProgress(events: Iterable<ProxyEvent>): ExerciseProgress[] {
  const p = new LessonProgress();
  for (const e of events) p.apply(e);
  return p.exercises();
}

/** Checkpoint ids with no predicate (a data/code mismatch; the tests keep this empty). */
export function uncheckedCheckpoints(exercises: readonly Exercise[] = EXERCISES): string[] {
  return exercises.flatMap((ex) => ex.checkpoints.map((c) => c.id)).filter((id) => !(id in CHECKS));
}
