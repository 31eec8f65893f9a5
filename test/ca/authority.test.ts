import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCa, type Ca } from '../../src/ca/index.ts';
import { nodeConnect, startTlsServer, tempDir } from './helpers.ts';

describe('mintLeaf', () => {
  const tmp = tempDir();
  let ca: Ca;
  beforeAll(async () => {
    ca = await openCa({ dir: tmp.dir });
  });
  afterAll(() => tmp.cleanup());

  it('is accepted by Node tls given the CA, refused without it', async () => {
    const leaf = ca.mintLeaf('shop.test');
    const server = await startTlsServer(leaf.certPem, leaf.keyPem);
    try {
      expect(await nodeConnect(server.port, 'shop.test', [ca.certPem])).toBe('ok');
      expect(await nodeConnect(server.port, 'shop.test', undefined)).toMatch(
        /^UNABLE_TO_VERIFY_LEAF_SIGNATURE /,
      );
    } finally {
      await server.close();
    }
  });

  it('adds an IP SAN for an address, accepted for 127.0.0.1', async () => {
    const leaf = ca.mintLeaf('127.0.0.1');
    expect(leaf.summary.sans).toEqual(['IP:127.0.0.1']);
    const server = await startTlsServer(leaf.certPem, leaf.keyPem);
    try {
      expect(await nodeConnect(server.port, '127.0.0.1', [ca.certPem])).toBe('ok');
    } finally {
      await server.close();
    }
  });
});
