// Tiny HTML helpers for the lab pages: escaping, and one page frame so every lab page looks
// like it belongs to the same little web. No templates, no dependencies.

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escape text for HTML element content and quoted attributes. */
export function esc(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/**
 * Escape text and let it break after `_`, `.`, `/` and `::` (`<wbr>`): error codes and host
 * names have no spaces, and unbroken they make a table column as wide as the longest one.
 */
export function breakable(text: string): string {
  return esc(text).replace(/(::|[_./])/g, '$1<wbr>');
}

/** A complete page. `body` is trusted HTML (build it with `esc`). */
export function page(
  title: string,
  body: string,
  opts: { accent?: string; wide?: boolean } = {},
): string {
  const accent = opts.accent ?? '#1f5f8b';
  // A wide page (the gallery's seven-column table) takes up to 80rem; any page's table scrolls
  // inside its `.scroll` box rather than pushing the whole page sideways (issue 10).
  const maxWidth = opts.wide ? '80rem' : '60rem';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: ${maxWidth}; margin: 2rem auto; padding: 0 1rem; color: #222; }
  header { border-bottom: 3px solid ${accent}; margin-bottom: 1rem; }
  h1 { color: ${accent}; }
  table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
  th, td { border: 1px solid #ccc; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; overflow-wrap: break-word; }
  code { background: #f3f3f3; padding: 0 0.2rem; }
  .scroll { overflow-x: auto; }
  .note { background: #fff7d6; border-left: 4px solid #e0b000; padding: 0.5rem 1rem; }
  .bad { background: #fde8e8; border-left: 4px solid #c0392b; padding: 0.5rem 1rem; }
  .good { background: #e8f6e8; border-left: 4px solid #2e8b57; padding: 0.5rem 1rem; }
  form label { display: block; margin: 0.4rem 0; }
</style>
</head>
<body>
${body}
<footer><p><small>mitm-lab built-in lab — every name here ends in <code>.test</code> and lives on your own machine.</small></p></footer>
</body>
</html>
`;
}

/** Format cents as an amount, e.g. `1,234.56`. */
export function money(cents: number): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  const units = Math.floor(abs / 100).toLocaleString('en-US');
  return `${sign}${units}.${String(abs % 100).padStart(2, '0')}`;
}
