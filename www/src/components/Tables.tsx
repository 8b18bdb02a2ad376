import { memo } from 'react';
import type { IngestCorridor } from '@/lib/api';
import type { AnchorRow, CorridorRow, Point } from '@/lib/dashboard';
import { formatUsd, noUsdPrice, shortAccount, shortKey } from '@/lib/dashboard';
import { Sparkline } from './Sparkline';

/**
 * Corridors. `ingest` (Horizon ingestion's details by corridor key) is given
 * only when Horizon feeds the data: it adds the top failure reason and tells
 * an unpriced volume from a zero one. REST and demo rows have neither.
 * `history`: recent points by corridor key, drawn as each row's sparkline.
 */
export function CorridorsTable({ rows, selected, onSelect, ingest, history }: { rows: CorridorRow[]; selected?: string; onSelect: (key: string) => void; ingest?: Record<string, IngestCorridor>; history?: Record<string, Point[]> }) {
  if (rows.length === 0) return <p className="muted">No corridors yet.</p>;
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Corridor</th>
            <th scope="col" className="num">Success rate</th>
            <th scope="col" className="num">Volume (USD)</th>
            <th scope="col" className="num wide-only">Attempts</th>
            <th scope="col" className="wide-only">Last hour</th>
            {ingest && <th scope="col" className="wide-only">Top failure</th>}
          </tr>
        </thead>
        <tbody>
          {rows.map((c) => (
            // Keyed by the change count so each live change remounts the row and replays the highlight.
            <CorridorRowView key={`${c.id}:${c.flash}`} row={c} selected={selected === c.corridor_key} onSelect={onSelect} ingested={ingest !== undefined} detail={ingest?.[c.corridor_key]} spark={history?.[c.corridor_key]} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

/**
 * One corridor row. Memoised: a live update replaces only its own row object
 * (and an ingestion refresh only the details that changed), so the other rows
 * skip rendering when the table re-renders. `ingested`: Horizon feeds the
 * data, so the row has a failure cell; `detail` is its corridor's entry, if any.
 */
export const CorridorRowView = memo(function CorridorRowView({ row: c, selected, onSelect, ingested = false, detail, spark }: { row: CorridorRow; selected: boolean; onSelect: (key: string) => void; ingested?: boolean; detail?: IngestCorridor; spark?: Point[] }) {
  const day = detail?.window_24h;
  const hour = detail?.window_1h;
  // "no price" only when every success of the window lacked a USD price: then
  // the volume is unknown, not zero. A partly priced volume says how much is missing.
  const noPrice = noUsdPrice(detail);
  const failures = day ? Object.entries(day.failures).map(([code, n]) => `${code} ${n}`).join(', ') : '';
  return (
    <tr
      data-testid="corridor-row"
      data-key={c.corridor_key}
      className={`${c.flash > 0 ? 'flash' : ''} ${selected ? 'selected' : ''}`}
      onClick={() => onSelect(c.corridor_key)}
    >
      <td title={c.corridor_key} className="key">{shortKey(c.corridor_key)}</td>
      <td className="num" data-col="success_rate" title={hour ? `last hour: ${hour.success_rate.toFixed(2)}% of ${hour.attempts.toLocaleString('en-US')}` : undefined}>
        {c.success_rate.toFixed(2)}%
      </td>
      <td className="num">
        {noPrice ? (
          <span data-col="volume_usd" className="muted" title="No USD price: neither asset of these payments traded against USDC">
            no price
          </span>
        ) : (
          <span data-col="volume_usd">{formatUsd(c.volume_usd)}</span>
        )}
        {!noPrice && day && day.unpriced > 0 && (
          <span className="sub" data-col="unpriced" title="Successful payments without a USD price add no volume">
            {day.unpriced.toLocaleString('en-US')} unpriced
          </span>
        )}
        <span className="sub narrow-only">{c.total_transactions.toLocaleString('en-US')} tx</span>
      </td>
      <td className="num wide-only" data-col="total_transactions">{c.total_transactions.toLocaleString('en-US')}</td>
      <td className="wide-only" data-col="sparkline">
        <Sparkline points={spark} />
      </td>
      {ingested && (
        <td className="mono wide-only" data-col="top_failure_reason" title={failures ? `failures in the last 24 h: ${failures}` : 'no failed payments in the last 24 h'}>
          {detail?.top_failure_reason ?? <span className="muted">—</span>}
        </td>
      )}
    </tr>
  );
});

const STATUS_TEXT: Record<string, string> = { green: 'Healthy', yellow: 'Degraded', red: 'Failing' };

export function AnchorsTable({ rows }: { rows: AnchorRow[] }) {
  if (rows.length === 0) return <p className="muted">No anchors yet.</p>;
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col" className="wide-only">Account</th>
            <th scope="col" className="num">Reliability</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((a) => {
            const account = a.stellar_account ? shortAccount(a.stellar_account) : '…';
            return (
            <tr key={`${a.id}:${a.flash}`} data-testid="anchor-row" data-id={a.id} className={a.flash > 0 ? 'flash' : ''}>
              <td className="name">
                <span data-col="name">{a.name}</span>
                <span className="sub mono narrow-only">{account}</span>
              </td>
              <td className="mono wide-only" data-col="account" title={a.stellar_account}>{account}</td>
              <td className="num" data-col="reliability_score">{a.reliability_score.toFixed(2)}</td>
              <td>
                <span className={`pill pill-${STATUS_TEXT[a.status] ? a.status : 'unknown'}`} data-col="status" title={`status ${a.status}`}>
                  {STATUS_TEXT[a.status] ?? a.status}
                </span>
              </td>
            </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
