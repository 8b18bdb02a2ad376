// Debian's Chromium through playwright-core, with the flags every bench uses,
// and the renderer main thread's busy time from the DevTools protocol.
import { chromium } from 'playwright-core';

export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run',
];

export function launch() {
  return chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args: CHROMIUM_FLAGS });
}

/**
 * A CDP session on `page` whose `read()` gives the renderer main thread's
 * cumulative times in ms: `task` (wall time inside tasks, inflated when other
 * processes preempt it) and `cpu` (the thread's CPU time, `ThreadTime`, the
 * steadier figure on a shared machine).
 */
export async function mainThreadClock(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable', { timeDomain: 'threadTicks' });
  return {
    async read() {
      const { metrics } = await cdp.send('Performance.getMetrics');
      const get = (name) => metrics.find((m) => m.name === name).value * 1000;
      return { task: get('TaskDuration'), cpu: get('ThreadTime') };
    },
  };
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
