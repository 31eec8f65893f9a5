// The pages of lab.test (the index of the gallery) and of each gallery host, rendered from the
// gallery DATA (gallery.ts) so the page, the victim and the docs say the same thing.
import { GALLERY, type ClientOutcome, type GalleryEntry } from './gallery.ts';
import { breakable, esc, page } from './html.ts';

/** Why a gallery host could not be served on this platform (shown instead of its link). */
export type Unavailable = Map<string, string>;

function outcomeCell(o: ClientOutcome, client: 'node' | 'curl' | 'python'): string {
  if (o.outcome === 'accepted')
    return `connects${o.note ? ` <small>(${esc(o.note)})</small>` : ''}`;
  const code = client === 'curl' ? `exit ${o.code}` : o.code;
  return `<code>${breakable(code)}</code><br><small>${esc(o.text)}</small>`;
}

/** http://lab.test/ — every gallery host with the error each browser and client shows. */
export function indexPage(unavailable: Unavailable): string {
  const rows = GALLERY.map((g) => {
    const missing = unavailable.get(g.host);
    const link = missing
      ? `<b>${breakable(g.host)}</b><br><small class="bad">not served on this platform: ${esc(missing)}</small>`
      : `<a href="https://${esc(g.host)}/"><b>${breakable(g.host)}</b></a>`;
    return `<tr>
<td>${link}<br>${esc(g.title)}</td>
<td>${esc(g.problem)}${g.platformNote ? `<br><small>${esc(g.platformNote)}</small>` : ''}</td>
<td><code>${breakable(g.browsers.chromium)}</code></td>
<td><code>${breakable(g.browsers.firefox)}</code></td>
<td>${outcomeCell(g.clients.curl, 'curl')}</td>
<td>${outcomeCell(g.clients.node, 'node')}</td>
<td>${outcomeCell(g.clients.python, 'python')}</td>
</tr>`;
  }).join('\n');
  const body = `<header><h1>mitm-lab: the built-in lab</h1></header>
<p>Everything below runs on your own machine. Point a browser or curl at the mitm-lab proxy and
the names resolve through it — no hosts file, no internet.</p>
<h2>Sites</h2>
<ul>
<li><a href="http://bank.test/">http://bank.test/</a> — the bank over plain HTTP (log in and watch the proxy)</li>
<li><a href="https://bank.test/">https://bank.test/</a> — the same bank over HTTPS, certificate from the "mitm-lab Lab Public Root"</li>
</ul>
<h2>The certificate-warning gallery</h2>
<p>What each client shows when it connects <em>directly</em> and trusts only the lab root. Through the
proxy in <code>auto</code> mode, a client first refuses the proxy's forged certificate
(<code>NET::ERR_CERT_AUTHORITY_INVALID</code>); after that the proxy tunnels the host and the client
meets the real (broken) server.</p>
<div class="scroll"><table>
<tr><th>Host</th><th>What is wrong</th><th>Chromium</th><th>Firefox</th><th>curl</th><th>Node</th><th>Python</th></tr>
${rows}
</table></div>
<p class="note">curl, Node and Python columns are measured by the test suite on this kind of
machine (Debian 12, OpenSSL 3.0); the browser columns are the browsers' documented codes.</p>`;
  return page('mitm-lab lab index', body, { wide: true });
}

/** The page a gallery host serves when a client got through — what it should have seen instead. */
export function galleryPage(g: GalleryEntry, scheme: 'http' | 'https'): string {
  if (scheme === 'http') {
    return page(
      g.host,
      `<header><h1>${esc(g.host)}</h1></header>
<p>This lesson is over HTTPS: <a href="https://${esc(g.host)}/">https://${esc(g.host)}/</a>.</p>
<p>${esc(g.problem)}</p>`,
    );
  }
  const sawInstead =
    g.id === 'hsts'
      ? `<p class="good">Nothing was wrong: this host is valid. It sent <code>${esc(
          Object.entries(g.headers ?? {})
            .map(([k, v]) => `${k}: ${v}`)
            .join(', '),
        )}</code>.</p>`
      : `<p class="bad">You reached this page, so your client accepted a connection it should have refused
(unless you are looking at it through a proxy that validated it for you — or you clicked through).</p>`;
  const body = `<header><h1>${esc(g.host)} — ${esc(g.title)}</h1></header>
${sawInstead}
<p><b>What is wrong:</b> ${esc(g.problem)}</p>
<p><b>Where the handshake fails:</b> ${esc(g.handshakeStep)}</p>
<p><b>What you should have seen instead:</b></p>
<ul>
<li>Chromium: <code>${esc(g.browsers.chromium)}</code></li>
<li>Firefox: <code>${esc(g.browsers.firefox)}</code></li>
<li>curl: ${outcomeCell(g.clients.curl, 'curl')}</li>
<li>Node: ${outcomeCell(g.clients.node, 'node')}</li>
<li>Python: ${outcomeCell(g.clients.python, 'python')}</li>
</ul>
${g.platformNote ? `<p class="note">${esc(g.platformNote)}</p>` : ''}
<p><b>Lesson:</b> ${esc(g.lesson)}</p>
<p><a href="http://lab.test/">Back to the lab index</a></p>`;
  return page(`${g.host} — ${g.title}`, body, { accent: g.id === 'hsts' ? '#2e8b57' : '#c0392b' });
}

/** What the shared HTTP server answers for a name it does not serve. */
export function unknownHostPage(host: string, known: string[]): string {
  return page(
    'Unknown lab host',
    `<header><h1>Unknown lab host</h1></header>
<p>The lab serves no site called <code>${esc(host)}</code>. It serves:</p>
<ul>${known.map((h) => `<li><code>${esc(h)}</code></li>`).join('')}</ul>
<p>Start at <a href="http://lab.test/">http://lab.test/</a>.</p>`,
  );
}
