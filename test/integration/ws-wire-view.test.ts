// The Wire view of a real ws:// chat through the proxy: the client's frames as the masked bytes
// that crossed, the key, and the payload unmasked — masking is not encryption; the server's
// frames unmasked. Built from the real capture of a real Node WebSocket client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlowStore } from '../../src/store/index.ts';
import { stripTags } from '../../src/ui/text.ts';
import { wireView } from '../../src/ui/views/wire.ts';
import { parseWsFrames } from '../../src/ui/views/ws-frames.ts';
import { WebSocket } from '../../src/util/ws.ts';
import {
  makeTestPki,
  openTunnel,
  startOrigin,
  startTestProxy,
  type Origin,
  type TestProxy,
} from './helpers.ts';

let origin: Origin;
let tp: TestProxy;

beforeAll(async () => {
  const pki = makeTestPki();
  origin = await startOrigin(pki.leaf(['chat.test']));
  tp = await startTestProxy({ resolve: [{ pattern: 'chat.test', address: '127.0.0.1' }] });
});
afterAll(async () => {
  await tp?.close();
  await origin?.close();
});

describe('the Wire view of a ws:// chat', () => {
  it('shows masked bytes, the key and the unmasked text, and says masking is not encryption', async () => {
    const { socket } = await openTunnel(tp.proxy.port, `chat.test:${origin.httpPort}`);
    const ws = new WebSocket(`ws://chat.test:${origin.httpPort}/chat`, {
      createConnection: () => socket,
    } as never);
    await new Promise<void>((resolve, reject) => {
      ws.on('open', () => ws.send('meet me at noon'));
      ws.on('message', () => ws.close());
      ws.on('close', () => resolve());
      ws.on('error', reject);
    });
    const msg = await tp.waitFor('ws.message', (e) => e.preview === 'meet me at noon');
    await tp.waitFor('conn.close', (e) => e.connId === msg.connId);
    const store = new FlowStore();
    for (const e of tp.events) store.apply(e);
    const flow = store.all().find((f) => f.id === msg.flowId)!;
    expect(flow).toBeDefined();
    const text = wireView(flow, { redact: true, width: 140 }).map(stripTags).join('\n');
    expect(text).toContain('WebSocket frames, masked - NOT encrypted');
    expect(text).toContain('the 4-byte key travels in each frame header');
    expect(text).toMatch(/text frame, 15 bytes, key ([0-9a-f]{2} ){3}[0-9a-f]{2}/);
    expect(text).toMatch(/unmasked\s+meet me at noon\s+readable by anyone on the path/);
    expect(text).toContain('WebSocket frames, not masked - readable as they are');
    // The bytes shown "on the wire" are the masked ones, not the text.
    const onWire = /on the wire\s+([0-9a-f ]+)/.exec(text)![1]!.trim();
    expect(onWire).not.toBe(Buffer.from('meet me at noon').toString('hex').match(/../g)!.join(' '));
  });

  it('parses frames: masked and not, 16-bit lengths, a cut payload', () => {
    const key = Buffer.from([1, 2, 3, 4]);
    const payload = Buffer.from('hi');
    const masked = Buffer.from(payload.map((b, i) => b ^ key[i % 4]!));
    const client = Buffer.concat([Buffer.from([0x81, 0x82]), key, masked]);
    const long = Buffer.concat([Buffer.from([0x82, 126, 0x01, 0x00]), Buffer.alloc(100, 7)]);
    const [a, b] = parseWsFrames(Buffer.concat([client, long]));
    expect(a).toMatchObject({ fin: true, opcode: 1, declared: 2 });
    expect(a!.payload.toString()).toBe('hi');
    expect(a!.onWire.equals(masked)).toBe(true);
    expect(b).toMatchObject({ opcode: 2, mask: null, declared: 256 });
    expect(b!.onWire.length).toBe(100);
  });
});
