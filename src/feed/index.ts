// The event feed's public face: the server the proxy side starts with --feed, and the client
// `mitm-lab attach` uses.
export { startFeedServer, type FeedServer, type FeedServerOptions } from './server.ts';
export {
  connectFeed,
  followFeed,
  parseFeedUrl,
  type FeedClient,
  type FeedClientOptions,
  type FollowedFeed,
  type FollowOptions,
} from './client.ts';
export { FEED_PROTOCOL, type FeedHello, type FeedMessage } from './protocol.ts';
