// The one adapter for `qrcode-terminal` (CommonJS): a QR code as lines of block characters, so
// a projector shows the classroom's join URL for phones and laptops to read.
import qrcode from 'qrcode-terminal';

/** The QR code of `text`, one string per terminal row (two modules per row: "small"). */
export function qrLines(text: string): string[] {
  let out = '';
  qrcode.generate(text, { small: true }, (q: string) => (out = q));
  return out.split('\n').filter((l) => l.length > 0);
}
