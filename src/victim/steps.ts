// The victim's tour as DATA: which step, what it is called, where it goes, which secrets it
// sends and what it does (an action a few fields long). victim.ts runs an action; adding a
// step to the tour is adding a line here. The lab's hosts and gallery come from src/lab.
import { GALLERY, type GalleryEntry } from '../lab/index.ts';

/** The lab bank every non-gallery step talks to. */
export const BANK = 'bank.test';

/** What a step does, by kind: victim.ts has one routine per kind. */
export type StepAction =
  /** POST /login with the victim's password, then GET /account with the session cookie. */
  | { kind: 'login'; scheme: 'http' | 'https' }
  /** POST /api/token (JSON credentials), then GET /api/balance with the bearer token. */
  | { kind: 'api' }
  /** Open the support chat, read the greeting, send one message, read the answer. */
  | { kind: 'chat'; scheme: 'ws' | 'wss' }
  /**
   * Pay the rent: log in, open the transfer page, send the form as the page filled it, read
   * the confirmation, then look the transfer up in the bank's ledger (where the money went).
   */
  | { kind: 'transfer'; scheme: 'http' | 'https' }
  /** GET the gallery host's page. */
  | { kind: 'gallery'; host: string };

export interface StepSpec {
  /** Stable id (`--only`, the victim's records). */
  id: string;
  title: string;
  /** The URL (or ws URL) the step is about. */
  url: string;
  /** The gallery entry, for gallery steps. */
  gallery: GalleryEntry | null;
  /** Secrets this step sends, for the sentences. */
  secrets: readonly string[];
  action: StepAction;
}

const galleryStep = (g: GalleryEntry): StepSpec => ({
  id: `gallery:${g.id}`,
  title: `Gallery: ${g.title}`,
  url: `https://${g.host}/`,
  gallery: g,
  secrets: [],
  action: { kind: 'gallery', host: g.host },
});

/** The whole tour, in order. */
export const TOUR: readonly StepSpec[] = [
  {
    id: 'http-login',
    title: 'Log in over plain HTTP',
    url: `http://${BANK}/login`,
    gallery: null,
    secrets: ['password', 'session cookie'],
    action: { kind: 'login', scheme: 'http' },
  },
  {
    id: 'ws-chat',
    title: 'Chat with support over a plain WebSocket (ws)',
    url: `ws://${BANK}/chat`,
    gallery: null,
    secrets: ['chat message'],
    action: { kind: 'chat', scheme: 'ws' },
  },
  {
    id: 'https-login',
    title: 'Log in over HTTPS',
    url: `https://${BANK}/login`,
    gallery: null,
    secrets: ['password', 'session cookie'],
    action: { kind: 'login', scheme: 'https' },
  },
  {
    id: 'https-api',
    title: 'Use the API with a bearer token (HTTPS)',
    url: `https://${BANK}/api/balance`,
    gallery: null,
    secrets: ['password', 'bearer token'],
    action: { kind: 'api' },
  },
  {
    id: 'wss-chat',
    title: 'Chat with support over a WebSocket inside TLS (wss)',
    url: `wss://${BANK}/chat`,
    gallery: null,
    secrets: ['chat message'],
    action: { kind: 'chat', scheme: 'wss' },
  },
  {
    id: 'http-transfer',
    title: 'Pay the rent over plain HTTP',
    url: `http://${BANK}/transfer`,
    gallery: null,
    secrets: ['password', 'session cookie', 'transfer'],
    action: { kind: 'transfer', scheme: 'http' },
  },
  {
    id: 'https-transfer',
    title: 'Pay the rent over HTTPS',
    url: `https://${BANK}/transfer`,
    gallery: null,
    secrets: ['password', 'session cookie', 'transfer'],
    action: { kind: 'transfer', scheme: 'https' },
  },
  ...GALLERY.map(galleryStep),
];
