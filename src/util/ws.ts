// The one adapter for `ws` (CommonJS): the feed server, `attach` and the lab's WebSocket chat
// import WebSocket support from here. It sits in util/ because both feed/ and lab/ need it and
// neither may import the other.
import WebSocket, { WebSocketServer } from 'ws';

export { WebSocket, WebSocketServer };
export type { RawData, ServerOptions } from 'ws';
