// Each gallery host, met DIRECTLY (no proxy) by real clients that trust only the lab root:
// Node tls, curl and python3 must do exactly what the gallery data (src/lab/gallery.ts) says
// they do — the data the index page, the victim and the docs show.
import https from 'node:https';
import path from 'node:path';
import { tempDir } from '../support/temp-dir.ts';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GALLERY, startLab, type RunningLab, type ClientOutcome } from '../../src/lab/index.ts';
import { curlDirect, hasTool, nodeDirect, pythonDirect, type Said } from './support/clients.ts';

const { dir: tmp, cleanup } = tempDir('mitm-lab-gallery-');
let lab: RunningLab;

beforeAll(async () => {
  lab = await startLab({ dir: path.join(tmp, 'lab') });
});
afterAll(async () => {
  await lab?.close();
  cleanup();
});

function portOf(host: string): number {
  const site = lab.sites.find((s) => s.host === host);
  if (!site?.httpsPort) throw new Error(`${host} has no HTTPS port: ${site?.unavailable ?? '?'}`);
  return site.httpsPort;
}

function expectOutcome(said: Said, expected: ClientOutcome, who: string): void {
  if (expected.outcome === 'accepted') {
    expect(said, `${who} should connect`).toMatchObject({ ok: true });
    return;
  }
  expect(said.ok, `${who} should refuse, said ${said.text}`).toBe(false);
  expect(said.code, `${who}: ${said.text}`).toBe(expected.code);
  expect(said.text, who).toContain(expected.text);
}

const curl = hasTool('curl');
const python = hasTool('python3');

describe('the lab serves every gallery host', () => {
  it('starts a TLS server for each one on this platform', () => {
    const missing = lab.sites.filter((s) => s.gallery && s.unavailable);
    expect(missing.map((s) => `${s.host}: ${s.unavailable}`)).toEqual([]);
  });

  it('serves bank.test over HTTPS to all three clients', async () => {
    const port = portOf('bank.test');
    expect(await nodeDirect('bank.test', port, [lab.rootPem])).toMatchObject({ ok: true });
    if (curl)
      expect(await curlDirect('bank.test', port, lab.rootPath)).toEqual({
        ok: true,
        code: 'ok',
        text: '200',
      });
    if (python)
      expect(await pythonDirect('bank.test', port, lab.rootPath)).toMatchObject({ ok: true });
  });

  it('is refused by every client that does not trust the lab root', async () => {
    // Node with only its bundled roots: the lab root plays the public PKI only for the victim.
    const said = await nodeDirect('bank.test', portOf('bank.test'), [...tls.rootCertificates]);
    expect(said.ok).toBe(false);
    expect(said.code).toBe('UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
  });
});

describe.each(GALLERY.map((g) => [g.host, g] as const))('%s', (host, g) => {
  it(`Node: ${g.clients.node.outcome}`, async () => {
    expectOutcome(await nodeDirect(host, portOf(host), [lab.rootPem]), g.clients.node, 'node');
  });
  it.skipIf(!curl)(`curl: ${g.clients.curl.outcome}`, async () => {
    expectOutcome(await curlDirect(host, portOf(host), lab.rootPath), g.clients.curl, 'curl');
  });
  it.skipIf(!python)(`python3: ${g.clients.python.outcome}`, async () => {
    expectOutcome(await pythonDirect(host, portOf(host), lab.rootPath), g.clients.python, 'python');
  });
  if (g.headers) {
    it('sends its extra headers over HTTPS', async () => {
      const said = await fetchHeaders(host, portOf(host), lab.rootPem);
      for (const [k, v] of Object.entries(g.headers ?? {})) expect(said[k.toLowerCase()]).toBe(v);
    });
  }
});

function fetchHeaders(host: string, port: number, ca: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    https
      .get(
        { host: '127.0.0.1', port, servername: host, headers: { Host: host }, ca: [ca] },
        (r) => {
          r.resume();
          resolve(r.headers);
        },
      )
      .on('error', reject);
  });
}
