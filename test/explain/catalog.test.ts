import { describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/bus.ts';
import type { ProxyEvent, RejectOutcome, TunnelReason } from '../../src/events/types.ts';
import {
  ALERT_CODES,
  CATALOG,
  CAUSES,
  CLIENT_NAMES,
  RULES,
  SLOTS,
  VERDICTS,
  type ClientLines,
  type ClientShows,
  type Explanation,
  UPSTREAM_CODES,
  explain,
  keyFor,
  rejectKey,
  tunnelKey,
  upstreamKey,
  type ExplanationKey,
} from '../../src/explain/index.ts';
import { FlowStore } from '../../src/store/index.ts';
import { lesson } from '../store/fixtures.ts';

// Every value of the contract's unions, spelled out: adding one to src/events/types.ts without
// a catalog entry makes `satisfies` below fail to compile.
const REJECT_OUTCOMES = [
  'alert',
  'closed-after-handshake',
  'reset-during-handshake',
  'timeout',
  'no-shared-version-or-cipher',
  'not-tls',
  'unknown',
] as const satisfies readonly RejectOutcome[];
const _allRejects: Record<RejectOutcome, true> = Object.fromEntries(
  REJECT_OUTCOMES.map((o) => [o, true]),
) as Record<(typeof REJECT_OUTCOMES)[number], true>;
const TUNNEL_REASONS = [
  'mode-eavesdrop',
  'auto-refused-before',
  'outside-name-constraints',
  'not-tls',
  'mint-failed',
] as const satisfies readonly TunnelReason[];
const _allTunnels: Record<TunnelReason, true> = Object.fromEntries(
  TUNNEL_REASONS.map((o) => [o, true]),
) as Record<(typeof TUNNEL_REASONS)[number], true>;

const SLOT_RE = /\{(\w+)\}/g;

/** Every piece of text a client line holds. */
function lineTexts(lines: ClientLines | undefined): string[] {
  return Object.values(lines ?? {}).flatMap((l) =>
    (Array.isArray(l) ? (l as ClientShows[]) : [l as ClientShows]).flatMap((s) => [
      s.says ?? '',
      s.note ?? '',
    ]),
  );
}

function texts(key: ExplanationKey): string[] {
  const e: Explanation = CATALOG[key];
  return [
    e.title,
    e.whatHappened,
    e.handshakeStep,
    e.lesson,
    ...Object.values(e.handshakeStepByVersion ?? {}),
    ...lineTexts(e.clients),
    ...lineTexts(e.directly),
    ...(e.labEndpoint !== undefined ? [e.labEndpoint] : []),
  ];
}

/** Every text of the catalog outside CATALOG: causes, rules, verdicts. */
const OTHER_TEXTS = [
  ...Object.values(CAUSES).flatMap((c) => [c.title, c.text, ...lineTexts(c.clients)]),
  ...Object.values(RULES),
  ...Object.values(VERDICTS),
];

const TUNNEL_KEYS = TUNNEL_REASONS.map((r) => tunnelKey(r));

describe('explain catalog', () => {
  const keys = Object.keys(CATALOG) as ExplanationKey[];

  it('has a complete entry for every key: title, what happened, step, lesson, what clients show', () => {
    expect(keys.length).toBeGreaterThan(40);
    for (const key of keys) {
      const e: Explanation = CATALOG[key];
      for (const t of [e.title, e.whatHappened, e.handshakeStep, e.lesson]) {
        expect(t.trim().length, key).toBeGreaterThan(5);
      }
      // A tunnel's client lines come from its verdict; `unknown` honestly has none.
      if (TUNNEL_KEYS.includes(key) || key === 'unknown') continue;
      const lines = Object.keys(e.clients ?? {}).length + (e.causes?.length ?? 0);
      expect(lines, `${key} says nothing about what clients show`).toBeGreaterThan(0);
    }
  });

  it('names causes, never a certainty: no "almost certainly" anywhere', () => {
    for (const key of keys)
      for (const t of texts(key)) expect(t, key).not.toMatch(/almost certainly/i);
    for (const t of OTHER_TEXTS) expect(t).not.toMatch(/almost certainly/i);
  });

  it('gives every cause a line for every client it names, each with an outcome', () => {
    for (const [id, c] of Object.entries(CAUSES))
      for (const [client, l] of Object.entries(c.clients)) {
        expect(CLIENT_NAMES as readonly string[], id).toContain(client);
        for (const one of Array.isArray(l) ? (l as ClientShows[]) : [l as ClientShows])
          expect(['ok', 'error'], `${id}/${client}`).toContain(one.outcome);
      }
    // every certificate cause says what all seven clients do
    for (const id of [
      'untrusted-issuer',
      'expired',
      'not-yet-valid',
      'wrong-name',
      'self-signed',
    ] as const)
      expect(Object.keys(CAUSES[id].clients).sort(), id).toEqual([...CLIENT_NAMES].sort());
  });

  it('uses only slots that explain() knows how to fill', () => {
    for (const key of keys) {
      for (const t of texts(key)) {
        for (const m of t.matchAll(SLOT_RE))
          expect(Object.keys(SLOTS), `${key}: ${t}`).toContain(m[1]);
      }
    }
  });

  it('contains no emoji (blessed measures them wrong)', () => {
    for (const key of keys) {
      for (const t of texts(key)) expect(/\p{Extended_Pictographic}/u.test(t), key).toBe(false);
    }
  });

  it('maps every RejectOutcome to an entry', () => {
    expect(Object.keys(_allRejects)).toHaveLength(REJECT_OUTCOMES.length);
    for (const o of REJECT_OUTCOMES) {
      const key = rejectKey(o, null);
      expect(CATALOG[key], o).toBeDefined();
      expect(key).not.toBe('unknown');
    }
  });

  it('maps every listed TLS alert to its own entry and others to the generic alert entry', () => {
    for (const code of ALERT_CODES) expect(rejectKey('alert', code)).toBe(`reject.alert.${code}`);
    expect(rejectKey('alert', 21)).toBe('reject.alert.other');
    expect(rejectKey('alert', null)).toBe('reject.alert.other');
    // a silent close that still carried an alert is explained by the alert
    expect(rejectKey('closed-after-handshake', 48)).toBe('reject.alert.48');
  });

  it('maps every TunnelReason to an entry', () => {
    expect(Object.keys(_allTunnels)).toHaveLength(TUNNEL_REASONS.length);
    for (const r of TUNNEL_REASONS) expect(CATALOG[tunnelKey(r)], r).toBeDefined();
  });

  it('maps every known upstream code, aliases and EPROTO messages to specific entries', () => {
    for (const code of UPSTREAM_CODES) expect(upstreamKey(code)).toBe(`upstream.${code}`);
    expect(upstreamKey('EAI_AGAIN')).toBe('upstream.ENOTFOUND');
    expect(upstreamKey('EPROTO', 'routines:ssl3_get_record:wrong version number')).toBe(
      'upstream.ERR_SSL_WRONG_VERSION_NUMBER',
    );
    expect(upstreamKey('EPROTO', 'tlsv1 alert protocol version')).toBe(
      'upstream.ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
    );
    expect(upstreamKey('EPROTO', 'sslv3 alert handshake failure')).toBe(
      'upstream.ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
    );
    expect(upstreamKey('EPROTO', 'something else')).toBe('upstream.EPROTO');
  });

  it('gives an unknown code the generic, honest entry with the code filled in', () => {
    const bus = new EventBus();
    const e = bus.emit({
      type: 'upstream.error',
      connId: 'c1',
      flowId: 'f1',
      host: 'odd.test',
      port: 443,
      code: 'E_SOMETHING_NEW',
      message: 'a brand new failure',
      status: 502,
    });
    const x = explain(e);
    expect(x.key).toBe('upstream.other');
    expect(x.whatHappened).toContain('E_SOMETHING_NEW');
    expect(x.whatHappened).toContain('a brand new failure');
    expect(x.whatHappened).toContain('odd.test');
    const diag = bus.emit({
      type: 'diag',
      connId: null,
      level: 'warn',
      source: 'engine',
      message: 'x',
    });
    expect(explain(diag).key).toBe('unknown');
  });

  it('leaves no {slot} unfilled, whatever the event carries', () => {
    const { events } = lesson();
    const bus = new EventBus();
    const extra: ProxyEvent[] = [
      bus.emit({
        type: 'tls.client-rejected',
        connId: 'c9',
        host: '',
        sni: null,
        outcome: 'alert',
        alert: null,
        raw: '',
        clientHint: null,
        willTunnel: false,
      }),
    ];
    for (const e of [...events, ...extra]) {
      const x = explain(e);
      const all = [
        x.title,
        x.whatHappened,
        x.handshakeStep,
        x.lesson,
        ...x.causes.flatMap((c) => [c.title, c.text, c.ruledOut ?? '']),
        ...Object.values(x.clients).flatMap((l) => l.flatMap((v) => [v.says ?? '', v.note ?? ''])),
      ];
      for (const t of all) expect(t, `${e.type}: ${t}`).not.toMatch(SLOT_RE);
    }
    // and every catalog entry, filled with nothing at all
    for (const t of [
      ...(Object.keys(CATALOG) as ExplanationKey[]).flatMap(texts),
      ...OTHER_TEXTS,
    ]) {
      {
        const filled = t.replace(SLOT_RE, (w, n: string) => (n in SLOTS ? 'x' : w));
        expect(filled).not.toMatch(SLOT_RE);
      }
    }
  });

  it('explains the flows of a lesson by what they teach, naming the host', () => {
    const { events } = lesson();
    const store = new FlowStore();
    for (const e of events) store.apply(e);
    const byId = (id: string) => {
      const f = store.get(id);
      if (!f) throw new Error(`no flow ${id}`);
      return explain(f);
    };
    expect(byId('f1').key).toBe('http.plaintext');
    expect(byId('f1').whatHappened).toContain('shop.test');
    expect(byId('f2').key).toBe('https.decrypted');
    expect(byId('tls:c3').key).toBe('reject.alert.48');
    expect(byId('tls:c3').whatHappened).toContain('curl refused');
    expect(byId('tls:c3').clients.chromium?.map((l) => l.code)).toContain(
      'NET::ERR_CERT_AUTHORITY_INVALID',
    );
    expect(byId('tls:c4').key).toBe('tunnel.mode-eavesdrop');
    expect(byId('f5').key).toBe('upstream.CERT_HAS_EXPIRED');
    expect(keyFor(events.find((e) => e.type === 'tls.client-rejected')!)).toBe('reject.alert.48');
  });
});
