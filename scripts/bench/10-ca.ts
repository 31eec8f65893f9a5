// Leaf minting latency: what the first HTTPS request to a new host pays in the proxy.
// Ours: one shared leaf key, forge-built certificate, native signature, LRU cache.
// Baseline, measured in the same run: http-mitm-proxy 1.1's default per-host minting
// (a new RSA-2048 key per host, signed in pure JS), which the engine replaces.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openCa } from '../../src/ca/index.ts';

export const title = 'CA: leaf mint latency (new names, cached names) vs per-host keygen';

const NEW_NAMES = 200;
const CACHED_ROUNDS = 5;
const BASELINE_RUNS = 3;

function pct(samples: number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

const ms = (n: number) => (n < 0.1 ? n.toFixed(4) : n.toFixed(2));

export async function run(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'mitm-lab-bench-ca-'));
  try {
    let t = performance.now();
    const ca = await openCa({ dir });
    const createMs = performance.now() - t;
    ca.mintLeaf('warm-up.test'); // first call parses the CA and key PEMs once

    const fresh: number[] = [];
    for (let i = 0; i < NEW_NAMES; i++) {
      t = performance.now();
      const leaf = ca.mintLeaf(`host-${i}.bench.test`);
      fresh.push(performance.now() - t);
      if (leaf.cached) throw new Error('bench: a new name came from the cache');
    }
    const cached: number[] = [];
    for (let r = 0; r < CACHED_ROUNDS; r++) {
      for (let i = 0; i < NEW_NAMES; i++) {
        t = performance.now();
        const leaf = ca.mintLeaf(`host-${i}.bench.test`);
        cached.push(performance.now() - t);
        if (!leaf.cached) throw new Error('bench: a cached name was minted again');
      }
    }

    // Baseline: http-mitm-proxy's own CA class loads our files, then mints per host its way.
    const require = createRequire(import.meta.url);
    const { default: HmpCa } = require('http-mitm-proxy/dist/lib/ca.js') as {
      default: {
        create(
          dir: string,
          cb: (
            err: unknown,
            ca: { generateServerCertificateKeys(h: string, cb: () => void): void },
          ) => void,
        ): void;
      };
    };
    const hmp = await new Promise<{
      generateServerCertificateKeys(h: string, cb: () => void): void;
    }>((resolve, reject) => HmpCa.create(dir, (err, c) => (err ? reject(err) : resolve(c))));
    const baseline: number[] = [];
    for (let i = 0; i < BASELINE_RUNS; i++) {
      t = performance.now();
      await new Promise<void>((resolve) =>
        hmp.generateServerCertificateKeys(`baseline-${i}.bench.test`, () => resolve()),
      );
      baseline.push(performance.now() - t);
    }

    const newP50 = pct(fresh, 50);
    const cachedP50 = pct(cached, 50);
    const baseP50 = pct(baseline, 50);
    console.log(`  CA creation (2 RSA-2048 keys + self-signed cert): ${createMs.toFixed(0)} ms`);
    console.log(
      `  new name    (n=${NEW_NAMES}):  p50 ${ms(newP50)} ms   p99 ${ms(pct(fresh, 99))} ms   (target p50 <= 5 ms)`,
    );
    console.log(
      `  cached name (n=${cached.length}): p50 ${ms(cachedP50)} ms   p99 ${ms(pct(cached, 99))} ms   (target <= 0.05 ms)`,
    );
    console.log(
      `  baseline: http-mitm-proxy per-host keygen + JS signing (n=${BASELINE_RUNS}): p50 ${baseP50.toFixed(0)} ms`,
    );
    console.log(
      `  ratio: new name ${(baseP50 / newP50).toFixed(0)}x faster than the baseline; cached ${(baseP50 / cachedP50).toFixed(0)}x`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
