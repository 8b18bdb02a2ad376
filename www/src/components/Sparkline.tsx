import type { Point } from '@/lib/dashboard';
import { HISTORY_MS } from '@/lib/dashboard';

const W = 80;
const H = 20;

/** Narrowest time span drawn, ms: a few seconds of history are not stretched into a cliff. */
const MIN_SPAN_MS = 60_000;

/**
 * A corridor's success rate over (at most) the last {@link HISTORY_MS} as a
 * tiny SVG line: time from the first point (or a minute before the newest)
 * to the newest point, which sits at the right edge.
 */
export function Sparkline({ points }: { points?: Point[] }) {
  if (!points || points.length === 0) return <span className="muted">—</span>;
  const end = points[points.length - 1].t;
  const start = end - Math.min(HISTORY_MS, Math.max(MIN_SPAN_MS, end - points[0].t));
  const rates = points.map((p) => p.successRate);
  const lo = Math.min(...rates);
  const hi = Math.max(lo + 1, ...rates);
  const x = (t: number) => ((t - start) / (end - start)) * W;
  const y = (v: number) => 1 + (1 - (v - lo) / (hi - lo)) * (H - 2);
  const path = points.map((p) => `${x(p.t).toFixed(1)},${y(p.successRate).toFixed(1)}`);
  // One point still shows as a level line: the value held over the span.
  if (points.length === 1) path.unshift(`0,${y(rates[0]).toFixed(1)}`);
  const last = rates[rates.length - 1];
  return (
    <svg className="sparkline" data-testid="sparkline" data-points={points.length} viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" aria-label={`success rate, last hour: ${points.length} point${points.length === 1 ? '' : 's'}, now ${last.toFixed(2)}%`}>
      <polyline points={path.join(' ')} fill="none" className="series" vectorEffect="non-scaling-stroke" />
    </svg>
  );
}
