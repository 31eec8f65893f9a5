// The one adapter for `ws` (CommonJS): the feed server, `attach` and the lab's WebSocket chat
// import WebSocket support from here. It sits in util/ because both feed/ and lab/ need it and
// neither may import the other.
//
// Loaded with require, not `import`: an ES module importing a CommonJS package costs the
// process a few MB of resident memory more than require does (measured on Node 20 for the four
// CommonJS packages the proxy loads at start: idle RSS 68-71 -> 65-66 MB; issue 12, idle
// memory), and http-mitm-proxy has already required this same `ws` anyway.
import { createRequire } from 'node:module';
import type * as Ws from 'ws';

const ws = createRequire(import.meta.url)('ws') as typeof Ws.WebSocket & {
  WebSocketServer: typeof Ws.WebSocketServer;
};

export const WebSocket = ws;
export type WebSocket = Ws.WebSocket;
export const WebSocketServer = ws.WebSocketServer;
export type WebSocketServer = Ws.WebSocketServer;
export type { RawData, ServerOptions } from 'ws';
