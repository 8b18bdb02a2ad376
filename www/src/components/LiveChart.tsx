import type { Point } from '@/lib/dashboard';
import { formatUsd, HISTORY_MS } from '@/lib/dashboard';

export type Metric = 'successRate' | 'volume';

/** Narrowest time window shown, ms. */
const MIN_SPAN_MS = 60_000;
const W = 600;
const H = 180;
const PAD = { left: 8, right: 8, top: 12, bottom: 20 };

/**
 * A plain SVG line of one corridor's metric over the last {@link HISTORY_MS}.
 * Volume points without a USD price (`null`) are left out: an unpriced
 * corridor has an empty volume series, not a line at $0.
 */
export function LiveChart({ points: all, metric, now }: { points: Point[]; metric: Metric; now: number }) {
  const label = metric === 'successRate' ? 'Success rate' : 'Volume';
  const format = (v: number) => (metric === 'successRate' ? `${v.toFixed(2)}%` : formatUsd(v));
  const points = metric === 'volume' ? all.filter((p): p is Point & { volume: number } => p.volume !== null) : all;
  if (points.length === 0 && all.length > 0) {
    return (
      <p className="muted" data-testid="chart-no-price">
        No USD price for this corridor: neither asset traded against USDC, so its volume is unknown.
      </p>
    );
  }
  if (points.length === 0) return <p className="muted">No data for this corridor yet.</p>;
  const end = Math.max(now, points[points.length - 1].t);
  // The window grows with the data, from one minute up to HISTORY_MS, so a
  // fresh page does not squeeze its first points against the right edge.
  const span = Math.min(HISTORY_MS, Math.max(MIN_SPAN_MS, (end - points[0].t) * 1.1));
  const start = end - span;
  const value = (p: Point) => (metric === 'successRate' ? p.successRate : (p.volume ?? 0));
  const values = points.map(value);
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (metric === 'successRate') {
    lo = Math.max(0, Math.min(lo, hi - 5));
    hi = Math.min(100, Math.max(hi, lo + 5));
  } else if (hi === lo) {
    hi = lo + 1;
    lo = Math.max(0, lo - 1);
  }
  const x = (t: number) => PAD.left + ((t - start) / (end - start)) * (W - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (1 - (v - lo) / (hi - lo)) * (H - PAD.top - PAD.bottom);
  // Extend the last value to "now": the metric holds until the next update.
  const path = points.map((p) => `${x(p.t).toFixed(1)},${y(value(p)).toFixed(1)}`);
  path.push(`${x(end).toFixed(1)},${y(values[values.length - 1]).toFixed(1)}`);
  const last = values[values.length - 1];
  return (
    <figure className="chart" data-testid="live-chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${label} over the last ${spanLabel(span)}, now ${format(last)}`} preserveAspectRatio="none">
        <line x1={PAD.left} x2={W - PAD.right} y1={y(hi)} y2={y(hi)} className="gridline" />
        <line x1={PAD.left} x2={W - PAD.right} y1={y(lo)} y2={y(lo)} className="gridline" />
        <polyline points={path.join(' ')} className="series" fill="none" vectorEffect="non-scaling-stroke" />
        {points.map((p, i) => (
          // Index keys: two updates can share a millisecond.
          <circle key={i} cx={x(p.t)} cy={y(value(p))} r={2.5} className="point" />
        ))}
      </svg>
      <figcaption className="chart-axis">
        <span>{format(hi)} max</span>
        <span>
          now <strong data-testid="chart-last">{format(last)}</strong> · {points.length} point{points.length === 1 ? '' : 's'} · last {spanLabel(span)}
        </span>
        <span>{format(lo)} min</span>
      </figcaption>
    </figure>
  );
}

function spanLabel(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  return minutes <= 1 ? 'minute' : `${minutes} min`;
}
