import { memo } from 'react';
import type { AnchorRow, CorridorRow } from '@/lib/dashboard';
import { formatUsd, shortAccount, shortKey } from '@/lib/dashboard';

export function CorridorsTable({ rows, selected, onSelect }: { rows: CorridorRow[]; selected?: string; onSelect: (key: string) => void }) {
  if (rows.length === 0) return <p className="muted">No corridors yet.</p>;
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Corridor</th>
            <th scope="col" className="num">Success rate</th>
            <th scope="col" className="num">Volume (USD)</th>
            <th scope="col" className="num wide-only">Transactions</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((c) => (
            // Keyed by the change count so each live change remounts the row and replays the highlight.
            <CorridorRowView key={`${c.id}:${c.flash}`} row={c} selected={selected === c.corridor_key} onSelect={onSelect} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

/**
 * One corridor row. Memoised: a live update replaces only its own row object,
 * so the other rows skip rendering when the table re-renders.
 */
export const CorridorRowView = memo(function CorridorRowView({ row: c, selected, onSelect }: { row: CorridorRow; selected: boolean; onSelect: (key: string) => void }) {
  return (
    <tr
      data-testid="corridor-row"
      data-key={c.corridor_key}
      className={`${c.flash > 0 ? 'flash' : ''} ${selected ? 'selected' : ''}`}
      onClick={() => onSelect(c.corridor_key)}
    >
      <td title={c.corridor_key} className="key">{shortKey(c.corridor_key)}</td>
      <td className="num" data-col="success_rate">{c.success_rate.toFixed(2)}%</td>
      <td className="num">
        <span data-col="volume_usd">{formatUsd(c.volume_usd)}</span>
        <span className="sub narrow-only">{c.total_transactions.toLocaleString('en-US')} tx</span>
      </td>
      <td className="num wide-only" data-col="total_transactions">{c.total_transactions.toLocaleString('en-US')}</td>
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
