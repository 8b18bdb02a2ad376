import { horizonNetwork, type Snapshot } from '@/lib/api';
import type { LogEntry } from '@/lib/dashboard';
import { shortHash, sourceLabel } from '@/lib/dashboard';

const time = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });

export function formatTime(value: string | number): string {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : time.format(d);
}

export function SnapshotsList({ snapshots }: { snapshots: Snapshot[] }) {
  if (snapshots.length === 0) return <p className="muted">No snapshots yet.</p>;
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col" className="num">Epoch</th>
            <th scope="col">Hash</th>
            <th scope="col">Time</th>
          </tr>
        </thead>
        <tbody>
          {snapshots.map((s) => (
            <tr key={s.id} data-testid="snapshot-row">
              <td className="num">{s.epoch}</td>
              <td className="mono" title={s.hash}>{shortHash(s.hash)}</td>
              <td title={s.timestamp}>{formatTime(s.timestamp)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function MessageLog({ entries }: { entries: LogEntry[] }) {
  if (entries.length === 0) return <p className="muted">No messages yet.</p>;
  return (
    <ol className="log" data-testid="message-log">
      {entries.map((e) => (
        <li key={e.id}>
          <time className="muted">{formatTime(e.at)}</time>
          <span className={`type type-${e.type}`}>{e.type}</span>
          <span className="text">{e.text}</span>
        </li>
      ))}
    </ol>
  );
}

const SOURCE_TITLE: Record<string, string> = {
  demo: 'Generated demo data, not Stellar network activity',
  rest: 'Figures written through the REST API',
};

/** The header's discreet "Source: …" line; nothing before `/health` has answered. */
export function SourceLabel({ source }: { source?: string }) {
  if (!source) return null;
  const network = horizonNetwork(source);
  const title = network !== undefined ? `Computed from Stellar Horizon payments (${network} network), last 24 h` : SOURCE_TITLE[source];
  return (
    <p className="muted small" data-testid="data-source" data-source={source} title={title}>
      Source: {sourceLabel(source)}
    </p>
  );
}
