// The terminal UI on a headless blessed screen: every view and every key, asserted from the
// rendered screen text (what a person would read), fed by realistic events through a real bus.
import { afterEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/bus.ts';
import type { Controls } from '../../src/events/controls.ts';
import type { ClientTlsMax, Mode } from '../../src/events/types.ts';
import { FlowStore } from '../../src/store/index.ts';
import { lesson, plaintextLogin, refusedHttps } from '../store/fixtures.ts';
import { headless, type Harness } from './harness.ts';

let open: Harness[] = [];
afterEach(() => {
  for (const h of open) h.close();
  open = [];
});

function setup(opts: Parameters<typeof headless>[1] = {}): {
  h: Harness;
  store: FlowStore;
  bus: EventBus;
} {
  // replay a recorded lesson, then keep listening for live events on a bus
  const { events } = lesson();
  const bus = new EventBus();
  const store = new FlowStore();
  for (const e of events) store.apply(e);
  bus.on((e) => store.apply(e));
  const h = headless(store, opts);
  open.push(h);
  return { h, store, bus };
}

/** A Controls the tests can inspect (the engine's is tested with the engine). */
class RecordingControls implements Controls {
  mode: Mode = 'auto';
  forgets = 0;
  getMode(): Mode {
    return this.mode;
  }
  setMode(mode: Mode): void {
    this.mode = mode;
  }
  forgetRejected(): number {
    this.forgets++;
    return 2;
  }
  tlsMax: ClientTlsMax = '1.3';
  getClientTlsMax(): ClientTlsMax {
    return this.tlsMax;
  }
  setClientTlsMax(max: ClientTlsMax): void {
    this.tlsMax = max;
  }
  resets = 0;
  resetLab(): number {
    this.resets++;
    return 2;
  }
}

/** The line of the tab bar (it carries the selected flow's id at its right). */
function tabBar(screen: string): string {
  return screen.split('\n').find((l) => l.includes('1 Wire') && l.includes('5 Timeline')) ?? '';
}

describe('layout', () => {
  it('shows the header: address, mode, CA name and fingerprint, counts by badge', () => {
    const { h } = setup({ cols: 130 });
    const s = h.screen();
    expect(s).toContain('proxy 127.0.0.1:8080');
    expect(s).toContain('mode auto');
    expect(s).toContain('mitm-lab throwaway CA test');
    expect(s).toContain('AB:CD:EF:01');
    expect(s).toMatch(/plaintext 1\s+decrypted 2\s+refused 1\s+tunnelled 1\s+flows 5/);
  });

  it('lists flows with time, badge, host, method, path or outcome, status, size', () => {
    const { h } = setup();
    const s = h.screen();
    expect(s).toMatch(/\d\d:\d\d:\d\d HTTP plaintext\s+shop\.test\s+POST\s+\/login\s+200\s+54 B/);
    expect(s).toMatch(/HTTPS decrypted\s+bank\.test\s+GET\s+\/api\/account\s+200/);
    expect(s).toMatch(/HTTPS refused\s+shop\.test\s+TLS\s+alert 48 unknown_ca/);
    // Words, not internal keys (the reason key stays in the Why view's facts).
    expect(s).toMatch(/HTTPS tunnelled\s+news\.test\s+TLS\s+tunnelled: eavesdrop mode/);
    expect(s).not.toContain('mode-eavesdrop');
    expect(s).toMatch(/expired\.test\s+GET\s+\/ \(CERT_HAS_EXPIRED\)\s+502/);
  });

  it('shows the key hints in the footer, from the keymap', () => {
    const { h } = setup();
    const last = h.screen().split('\n').at(-1) ?? '';
    expect(last).toContain('? help');
    expect(last).toContain('q quit');
    expect(last).toContain('/ filter');
  });

  it('fits 80x24 and redraws on resize', async () => {
    const { h } = setup({ cols: 120, rows: 40 });
    expect(h.screen().split('\n')).toHaveLength(40);
    await h.resize(80, 24);
    const s = h.screen();
    const lines = s.split('\n');
    expect(lines).toHaveLength(24);
    expect(lines.every((l) => l.length === 80)).toBe(true);
    expect(lines[0]).toContain('proxy 127.0.0.1:8080');
    expect(s).toContain('HTTP plaintext');
    expect(s).toContain('1 Wire');
    expect(lines[23]).toContain('q quit');
  });

  it('survives a terminal smaller than 80x24 and grows back', async () => {
    const { h } = setup({ cols: 100, rows: 30 });
    await h.resize(40, 10);
    expect(h.screen().split('\n')).toHaveLength(10);
    await h.press('2', 'enter', 'down', '?');
    await h.resize(100, 30);
    await h.press('escape', 'escape');
    expect(h.screen()).toContain('HTTP plaintext');
  });

  it('never turns on mouse reporting unless asked, and draws no emoji', () => {
    const { h } = setup();
    h.screen();
    expect(h.output()).not.toContain('\x1b[?1000h');
    expect(/\p{Extended_Pictographic}/u.test(h.screen())).toBe(false);
  });

  it('picks up new flows on its own (redraw timer), without a key press', async () => {
    const { h, bus } = setup();
    plaintextLogin(bus, 'c50', 'live-flow');
    await new Promise((r) => setTimeout(r, 200));
    const text = h.ui.text().join('\n');
    expect(text).toContain('flows 6');
    expect(tabBar(text)).toContain('live-flow'); // follows the newest
  });
});

describe('bodies', () => {
  it('shows a binary body as hex, and marks a truncated one', async () => {
    const { h, store } = setup({ rows: 50 });
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
    const at = new Date().toISOString();
    store.apply({
      type: 'http.response',
      id: 'e900',
      at,
      connId: 'c90',
      flowId: 'img',
      status: 200,
      statusMessage: 'OK',
      httpVersion: '1.1',
      headers: [['Content-Type', 'image/png']],
      body: { bytes: png, size: 300_000, truncated: true },
      visibility: 'proxy-only',
      timings: { dnsMs: null, connectMs: null, tlsMs: null, ttfbMs: null, totalMs: null },
      upstreamCertificate: null,
      upstreamProtocol: null,
      upstreamCipher: null,
    });
    await h.press('end', '2');
    const s = h.screen();
    expect(s).toContain('binary body, 293.0 KB');
    expect(s).toMatch(/0000 {2}89 50 4e 47 0d 0a 1a 0a/);
    expect(s).toContain('.PNG');
    expect(s).toContain('[truncated: body was 293.0 KB, only the start was kept]');
  });
});

describe('redaction everywhere', () => {
  it('hides a token in the URL in the list and in the Decrypted view', async () => {
    const { h, bus } = setup();
    bus.emit({
      type: 'http.request',
      connId: 'c61',
      flowId: 'tok',
      scheme: 'http',
      method: 'GET',
      url: 'http://shop.test/reset?token=abcdef123',
      host: 'shop.test',
      path: '/reset?token=abcdef123',
      httpVersion: '1.1',
      headers: [['Host', 'shop.test']],
      body: { text: '', size: 0, truncated: false },
      visibility: 'wire',
    });
    await new Promise((r) => setTimeout(r, 120));
    await h.press('end', '2');
    let s = h.screen();
    expect(s).toContain('/reset?token=[hidden 9]');
    expect(s).toContain('GET http://shop.test/reset?token=[hidden 9]');
    expect(s).not.toContain('abcdef123');
    await h.press('r');
    s = h.screen();
    expect(s).toContain('GET http://shop.test/reset?token=abcdef123');
  });
});

describe('robustness', () => {
  it('a view that cannot draw a malformed flow says so, and the UI keeps working', async () => {
    const { h, store } = setup();
    store.apply({
      type: 'http.request',
      id: 'e999',
      at: new Date().toISOString(),
      connId: 'c99',
      flowId: 'broken',
      scheme: 'https',
      method: 'GET',
      url: 'https://odd.test/',
      host: 'odd.test',
      path: '/',
      httpVersion: '1.1',
      headers: null as unknown as [],
      body: { text: '', size: 0, truncated: false },
      visibility: 'proxy-only',
    });
    await h.press('end', '2');
    let s = h.screen();
    expect(s).toContain('This view could not be drawn for broken');
    await h.press('home');
    s = h.screen();
    expect(s).toContain('DECRYPTED');
    expect(s).toContain('user = alice');
  });
});

describe('moving', () => {
  it('follows the newest flow, and moves with arrows, j/k, PgUp/PgDn, Home/End', async () => {
    const { h } = setup();
    expect(tabBar(h.screen())).toContain('f5');
    await h.press('up');
    expect(tabBar(h.screen())).toContain('tls:c4');
    await h.press('k');
    expect(tabBar(h.screen())).toContain('tls:c3');
    await h.press('j');
    expect(tabBar(h.screen())).toContain('tls:c4');
    await h.press('home');
    expect(tabBar(h.screen())).toContain('f1');
    await h.press('down');
    expect(tabBar(h.screen())).toContain('f2');
    await h.press('end');
    expect(tabBar(h.screen())).toContain('f5');
    await h.press('pageup');
    expect(tabBar(h.screen())).toContain('f1');
    await h.press('pagedown');
    expect(tabBar(h.screen())).toContain('f5');
  });

  it('Enter opens the flow full screen, arrows then scroll the view, Esc closes', async () => {
    const { h } = setup({ rows: 24 });
    await h.press('home', 'down', 'enter');
    let s = h.screen();
    expect(s).not.toContain('time     what');
    expect(s).toContain('WIRE - what an eavesdropper sees');
    expect(tabBar(s)).toMatch(/f2\s+1-/);
    await h.press('down', 'down');
    s = h.screen();
    expect(tabBar(s)).toMatch(/f2\s+3-/); // scrolled two lines, same flow
    await h.press('escape');
    s = h.screen();
    expect(s).toContain('time     what');
    expect(tabBar(s)).toContain('f2');
  });
});

describe('views', () => {
  it('Wire, plain HTTP: the bytes, password and cookie hidden until r reveals them', async () => {
    const { h } = setup();
    await h.press('home', '1');
    let s = h.screen();
    expect(s).toContain('POST /login HTTP/1.1');
    expect(s).toContain('user=alice&password=[hidden 7]');
    expect(s).toContain('Cookie: [hidden 20]');
    expect(s).not.toContain('hunter2');
    expect(s).toContain('[secrets hidden]');
    await h.press('r');
    s = h.screen();
    expect(s).toContain('password=hunter2');
    expect(s).toContain('Cookie: session=s3cr3tcookie');
    expect(s).toContain('SECRETS SHOWN');
    await h.press('r');
    expect(h.screen()).not.toContain('hunter2');
  });

  it('Wire, HTTPS: destination, SNI, ALPN, versions, cipher, records, hex of the ciphertext', async () => {
    const { h } = setup({ rows: 60 });
    await h.press('home', 'down', 'enter', '1');
    const s = h.screen();
    expect(s).toContain('destination   bank.test:443');
    expect(s).toMatch(/SNI\s+bank\.test\s+sent in clear/);
    expect(s).toMatch(/ALPN offered\s+h2, http\/1\.1\s+chosen http\/1\.1/);
    expect(s).toMatch(/offered TLS 1\.3, TLS 1\.2\s+chosen TLS 1\.3/);
    expect(s).toContain('chosen TLS_AES_256_GCM_SHA384');
    expect(s).toMatch(/->\s+0\.0 ms\s+handshake\s+512 B\s+ClientHello/);
    expect(s).toContain('TLS 1.3: the server certificate is encrypted');
    expect(s).toMatch(/0000 {2}16 03 01 02 00/);
  });

  it('Wire, TLS 1.2 tunnel: the certificate that crossed in clear', async () => {
    const { h } = setup({ rows: 60 });
    await h.press('end', 'up', 'enter', '1');
    const s = h.screen();
    expect(s).toContain('Server certificate, in clear');
    expect(s).toContain('CN=news.test');
    expect(s).toMatch(/bytes\s+812 B up, 4\.3 KB down/);
  });

  it('Decrypted: request and response pretty-printed, secrets hidden; refused: nothing', async () => {
    const { h } = setup({ rows: 60 });
    await h.press('home', 'down', 'enter', '2');
    let s = h.screen();
    expect(s).toContain('GET https://bank.test/api/account');
    expect(s).toContain('Authorization: [hidden');
    expect(s).not.toContain('sk-live-topsecret');
    expect(s).toContain('"balance": 1234.5');
    expect(s).toContain('200 OK');
    await h.press('escape', 'home', 'enter');
    s = h.screen();
    expect(s).toMatch(/user = alice/);
    expect(s).toMatch(/password = \[hidden 7\]/);
    await h.press('escape', 'down', 'down', 'enter');
    s = h.screen();
    expect(s).toContain('Nothing: the proxy never held the keys.');
  });

  it('Certificates: forged next to real, same name, different issuer and key', async () => {
    const { h } = setup({ cols: 140, rows: 50 });
    await h.press('home', 'down', '3');
    const s = h.screen();
    expect(s).toContain('Forged by mitm-lab (shown to the client)');
    expect(s).toContain('Real (from the server)');
    expect(s).toContain('CN=mitm-lab throwaway CA 2026-11-23 3f9a1c');
    expect(s).toContain('CN=mitm-lab lab public root');
    expect(s).toMatch(/same name\s+yes/);
    expect(s).toMatch(/same issuer\s+no/);
    expect(s).toMatch(/same key\s+no/);
  });

  it('Certificates on a narrow screen stack the two; plain HTTP has none', async () => {
    const { h } = setup({ cols: 80, rows: 60 });
    await h.press('home', 'down', 'enter', '3');
    let s = h.screen();
    expect(s.indexOf('Forged by mitm-lab')).toBeLessThan(s.indexOf('Real (from the server)'));
    await h.press('escape', 'home', '3');
    s = h.screen();
    expect(s).toContain('None: plain HTTP has no certificate');
  });

  it('Why: the catalog explanation, handshake step and what clients show', async () => {
    const { h } = setup({ rows: 60 });
    await h.press('home', 'down', 'down', 'enter', '4');
    const s = h.screen();
    expect(s).toContain('Refused: unknown CA (alert 48)');
    expect(s).toContain('Handshake step');
    expect(s).toContain('NET::ERR_CERT_AUTHORITY_INVALID');
    expect(s).toContain('exit 60');
    expect(s).toContain('SSLCertVerificationError');
    expect(s).toMatch(/alert 48 unknown_ca/);
  });

  it('Timeline: phases as bars and the round trips of TLS 1.3 vs 1.2', async () => {
    const { h } = setup({ rows: 60 });
    await h.press('home', 'down', 'enter', '5');
    const s = h.screen();
    expect(s).toMatch(/DNS lookup\s+0\.5 ms\s+#/);
    expect(s).toMatch(/TLS handshake\s+6\.5 ms\s+ *#+/);
    expect(s).toMatch(/total\s+10 ms/);
    expect(s).toContain('> TLS 1.3: TCP 1 + TLS 1 = 2 RTT');
    expect(s).toContain('TLS 1.2: TCP 1 + TLS 2 = 3 RTT');
  });

  it('Tab and Shift-Tab cycle the views', async () => {
    const { h } = setup();
    await h.press('home', '1', 'tab');
    expect(h.screen()).toContain('DECRYPTED');
    await h.press('tab', 'tab', 'tab');
    expect(h.screen()).toContain('TIMELINE');
    await h.press('tab');
    expect(h.screen()).toContain('WIRE');
    await h.press('S-tab');
    expect(h.screen()).toContain('TIMELINE');
  });
});

describe('keys', () => {
  it('/ filters by host, badge, visibility, outcome and text; Esc clears', async () => {
    const { h } = setup();
    await h.press('/', ...'host:bank', 'enter');
    let s = h.screen();
    expect(s).toContain('showing 1 of 5');
    expect(s).toContain('filter: host:bank');
    expect(s).not.toContain('news.test');
    await h.press('/', '\x15', ...'outcome:unknown_ca', 'enter'); // Ctrl-U empties the line
    s = h.screen();
    expect(s).toContain('alert 48 unknown_ca');
    expect(s).toContain('showing 1 of 5');
    await h.press('/', '\x15', ...'vis:wire', 'enter');
    expect(h.screen()).toContain('POST    /login');
    await h.press('/', '\x15', ...'badge:tunnelled', 'enter');
    expect(h.screen()).toContain('news.test');
    await h.press('escape');
    s = h.screen();
    expect(s).toContain('flows 5');
    expect(s).not.toContain('filter:');
  });

  it('/ shows what is typed, and Esc cancels the edit', async () => {
    const { h } = setup();
    await h.press('/', ...'shop');
    expect(h.screen().split('\n').at(-1)).toContain('/shop_');
    await h.press('escape');
    expect(h.screen()).toContain('flows 5');
  });

  it('p pauses the list while events keep coming, and p again catches up', async () => {
    const { h, bus } = setup();
    await h.press('p');
    refusedHttps(bus, 'c77');
    await new Promise((r) => setTimeout(r, 100));
    let s = h.screen();
    expect(s).toContain('PAUSED +1');
    expect(s).toContain('showing 5 of 6');
    await h.press('p');
    s = h.screen();
    expect(s).not.toContain('PAUSED');
    expect(s).toContain('flows 6');
    expect(tabBar(s)).toContain('tls:c77');
  });

  it('c clears the list', async () => {
    const { h, store } = setup();
    await h.press('c');
    const s = h.screen();
    expect(store.size).toBe(0);
    expect(s).toContain('flows 0');
    expect(s).toContain('No flows yet');
  });

  it('m cycles the mode through Controls; f forgets refused hosts', async () => {
    const controls = new RecordingControls();
    const { h } = setup({ controls });
    await h.press('m');
    expect(controls.mode).toBe('intercept');
    let s = h.screen();
    expect(s).toContain('mode intercept');
    await h.press('m');
    expect(controls.mode).toBe('eavesdrop');
    await h.press('m');
    expect(controls.mode).toBe('auto');
    await h.press('f');
    expect(controls.forgets).toBe(1);
    s = h.screen();
    expect(s).toContain('forgot 2 refused hosts');
  });

  it('m, f and e say they are not available when attached (no Controls)', async () => {
    const { h } = setup();
    await h.press('m');
    expect(h.screen()).toContain('mode: not available when attached');
    await h.press('f');
    expect(h.screen()).toContain('forget: not available when attached');
    await h.press('e');
    expect(h.screen()).toContain('HAR export: not available when attached');
  });

  it('e exports HAR through Controls and shows the path, or says it is not available', async () => {
    const withHar = new RecordingControls() as RecordingControls & {
      exportHar?: () => Promise<string>;
    };
    withHar.exportHar = () => Promise.resolve('/tmp/mitm-lab-flows.har');
    const { h } = setup({ controls: withHar });
    await h.press('e');
    await new Promise((r) => setTimeout(r, 30));
    expect(h.screen()).toContain('HAR written: /tmp/mitm-lab-flows.har');
    const { h: h2 } = setup({ controls: new RecordingControls() });
    await h2.press('e');
    expect(h2.screen()).toContain('HAR export: not available');
  });

  it('? opens the help overlay, listing every key from the keymap; any key closes it', async () => {
    const { h } = setup({ rows: 48 });
    await h.press('?');
    let s = h.screen();
    expect(s).toContain('mitm-lab keys');
    for (const label of [
      'Up / k',
      'PgDn / Space',
      'Shift-Tab',
      'q / Ctrl-C',
      'reveal / hide passwords',
    ])
      expect(s).toContain(label);
    await h.press('x');
    s = h.screen();
    expect(s).not.toContain('mitm-lab keys');
  });

  it('scrolls the help on a small terminal so every key can be read', async () => {
    const { h } = setup({ cols: 80, rows: 24 });
    await h.press('?');
    let s = h.screen();
    expect(s).toContain('mitm-lab keys');
    expect(s).toMatch(/Down\/Up scroll/);
    expect(s).not.toContain('q / Ctrl-C');
    await h.press('pagedown', 'pagedown', 'pagedown');
    s = h.screen();
    expect(s).toContain('q / Ctrl-C');
    await h.press('x');
    expect(h.screen()).not.toContain('Down/Up scroll');
  });

  it("lists the caller's own keys in the help overlay too", async () => {
    const { h } = setup({
      rows: 48,
      extraKeys: [{ label: 'F9', help: 'a key the caller handles itself' }],
    });
    await h.press('?');
    expect(h.screen()).toMatch(/F9\s+a key the caller handles itself/);
  });

  it('q quits: done resolves and the terminal leaves the alternate screen', async () => {
    const { h } = setup();
    let resolved = false;
    void h.ui.done.then(() => (resolved = true));
    await h.press('q');
    await new Promise((r) => setTimeout(r, 10));
    expect(resolved).toBe(true);
    expect(h.output()).toContain('\x1b[?1049l'); // back to the normal screen
    expect(h.output()).toContain('\x1b[?25h'); // cursor shown
  });
});
