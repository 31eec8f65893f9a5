// The viewer's cost, without the noise of a live load: a feed server in this process replays a
// recorded events file at a fixed rate to a real `mitm-lab attach` in a 120x40 pseudo-terminal
// (python3's pty), and prints the viewer's CPU (all its threads, from /proc) per request and
// per event, and this process's (the feed's serialisation and sending, plus the replay loop).
// On this 2-core machine the viewer competes with the proxy, the client and the origin, so its
// CPU per request is what "UI attached × headless" in `npm run bench` comes down to (issue 12).
//
//   npm run build
//   node scripts/bench/proc/viewer-replay.mjs EVENTS.jsonl [--rate 9000] [--seconds 5]
//        [--dist DIR] [--interval MS] [--node-args='--cpu-prof --cpu-prof-dir=DIR']
//
// EVENTS.jsonl: an `--events` file of a load, e.g. `mitm-lab proxy --headless --events F`
// under `scripts/bench/proc/load.ts` (about three events per plain-HTTP request). --dist
// replays through another build (e.g. an older commit's dist/, to say which change bought
// what); --interval sets the feed's flush interval (FEED_FLUSH_INTERVAL_MS by default);
// --node-args gives the viewer's node options (node refuses --cpu-prof in NODE_OPTIONS; the
// viewer ends on SIGTERM by exiting, so a profile is written).
// Everything is bounded: the viewer is ended by its PID when the replay is over.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ptyArgs } from './pty.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rate: { type: 'string', default: '9000' },
    seconds: { type: 'string', default: '5' },
    dist: { type: 'string', default: path.resolve(import.meta.dirname, '../../../dist') },
    interval: { type: 'string' },
    'node-args': { type: 'string', default: '' },
  },
});
const file = positionals[0];
if (!file || !existsSync(file)) {
  console.error(
    'usage: viewer-replay.mjs EVENTS.jsonl [--rate N] [--seconds S] [--dist DIR] [--interval MS] [--node-args ARGS]',
  );
  process.exit(2);
}
const dist = path.resolve(values.dist);
const bin = path.join(dist, '..', 'bin', 'mitm-lab.js');
if (!existsSync(path.join(dist, 'feed', 'server.js'))) {
  console.error(`no build in ${dist}: run npm run build first`);
  process.exit(1);
}
const load = (p) => import(pathToFileURL(path.join(dist, p)).href);
const { EventBus } = await load('events/bus.js');
const { eventFromJson } = await load('events/json.js');
const { startFeedServer } = await load('feed/server.js');

// The recorded events without their stamps: the bus stamps them again as they are replayed.
const events = readFileSync(file, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => {
    const e = eventFromJson(JSON.parse(line));
    delete e.id;
    delete e.at;
    return e;
  })
  .filter((e) => e.type !== 'proxy.listening');
if (events.length === 0) {
  console.error(`${file} holds no events`);
  process.exit(1);
}
const rate = Number(values.rate);
const total = Math.round(rate * Number(values.seconds));

const bus = new EventBus();
const feed = await startFeedServer({
  bus,
  ...(values.interval !== undefined ? { flushIntervalMs: Number(values.interval) } : {}),
});
const nodeArgs = values['node-args'].split(' ').filter(Boolean);
const pty = spawn('python3', ptyArgs([process.execPath, ...nodeArgs, bin, 'attach', feed.url]), {
  env: { ...process.env, TERM: 'xterm-256color' },
  stdio: 'ignore',
});

/** The viewer: the pty's child, once it is connected to the feed. */
async function viewerPid() {
  const end = Date.now() + 15_000;
  while (Date.now() < end) {
    if (feed.viewers > 0) {
      const out = execFileSync('pgrep', ['-P', String(pty.pid)])
        .toString()
        .trim();
      if (out) return Number(out.split('\n')[0]);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the viewer did not connect within 15 s');
}
/** CPU ms of a process, all threads, user + system. */
function cpuMs(pid) {
  let ticks = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    const f = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
    const x = f.slice(f.lastIndexOf(')') + 2).split(' ');
    ticks += Number(x[11]) + Number(x[12]);
  }
  return ticks * 10; // USER_HZ 100
}

let vpid = 0;
try {
  vpid = await viewerPid();
  await new Promise((r) => setTimeout(r, 1500)); // its first screen drawn, the start-up done
  const v0 = cpuMs(vpid);
  const c0 = process.cpuUsage();
  let sent = 0;
  let requests = 0;
  const t0 = performance.now();
  await new Promise((resolve) => {
    const step = () => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
      for (; sent < due; sent++) {
        const e = events[sent % events.length];
        if (e.type === 'http.request') requests++;
        bus.emit(e);
      }
      if (sent >= total) resolve();
      else setTimeout(step, 1);
    };
    step();
  });
  // The viewer catches up: its CPU stops moving (bounded at 10 s).
  let last = -1;
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const now = cpuMs(vpid);
    if (now === last) break;
    last = now;
  }
  const viewer = cpuMs(vpid) - v0;
  const c = process.cpuUsage(c0);
  const own = (c.user + c.system) / 1000;
  const per = (ms, n) => ((1000 * ms) / n).toFixed(1);
  console.log(
    `${sent} events (${requests} requests) at ${rate}/s: viewer ${viewer} ms of CPU, ` +
      `${per(viewer, requests)} µs a request, ${per(viewer, sent)} µs an event; ` +
      `feed and replay ${own.toFixed(0)} ms, ${per(own, requests)} µs a request`,
  );
} finally {
  if (vpid) {
    process.kill(vpid, 'SIGTERM');
    // The viewer (blessed) exits on SIGTERM on its next tick, writing a --cpu-prof profile:
    // closing its terminal before that would end it with SIGHUP, and the profile with it.
    for (let i = 0; i < 50 && existsSync(`/proc/${vpid}`); i++)
      await new Promise((r) => setTimeout(r, 100));
  }
  await feed.close();
  pty.kill('SIGTERM');
}
