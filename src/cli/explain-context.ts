// What the composition root tells the explain layer beyond the events: the lab gallery's own
// words on each of its hosts (explain/ may not import lab/). Static data, so `proxy`, `start`
// and `attach` all name a gallery host's real defect the same way.
import type { CauseId, ExplainContext } from '../explain/index.ts';
import { galleryEntry, type GalleryId } from '../lab/index.ts';

/** Which catalog cause each gallery host is (HSTS is not a certificate defect). */
const GALLERY_CAUSE: Readonly<Record<GalleryId, CauseId | null>> = {
  expired: 'expired',
  'not-yet-valid': 'not-yet-valid',
  'wrong-host': 'wrong-name',
  'self-signed': 'self-signed',
  'untrusted-root': 'untrusted-root',
  'weak-key': 'weak-key',
  'old-tls': 'old-protocol',
  'no-shared-cipher': 'no-shared-cipher',
  hsts: null,
};

/** The explain context every command passes to its views. */
export const LAB_EXPLAIN_CONTEXT: ExplainContext = {
  labHost(host) {
    const entry = galleryEntry(host);
    const cause = entry ? GALLERY_CAUSE[entry.id] : null;
    return entry && cause ? { problem: entry.problem, cause } : null;
  },
};
