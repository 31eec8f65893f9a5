// The mouse stays off unless asked for (--mouse): with it on, the terminal cannot select text,
// and copying a curl command off the projector is what workshops do all day.
import { afterEach, describe, expect, it } from 'vitest';
import { FlowStore } from '../../src/store/index.ts';
import { headless, type Harness } from './harness.ts';

/** DEC private modes 1000-1006 turn on mouse reporting: `ESC [ ? 1000 h` and friends. */
const mouseOn = (out: string): boolean =>
  [1000, 1001, 1002, 1003, 1005, 1006].some((mode) => out.includes(`\u001b[?${mode}h`));

describe('mouse reporting', () => {
  let h: Harness | null = null;
  afterEach(() => {
    h?.close();
    h = null;
  });

  it('is off by default', async () => {
    h = headless(new FlowStore());
    await h.press('j');
    expect(h.screen()).toContain('mitm-lab');
    expect(mouseOn(h.output())).toBe(false);
  });

  it('is turned on with mouse: true (the --mouse option)', async () => {
    h = headless(new FlowStore(), { mouse: true });
    await h.press('j');
    expect(mouseOn(h.output())).toBe(true);
  });
});
