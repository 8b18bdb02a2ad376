'use client';
import { useState } from 'react';
import { useDashboard } from '@/hooks/useDashboard';
import { horizonNetwork } from '@/lib/api';
import { LiveChart, type Metric } from './LiveChart';
import { MessageLog, SnapshotsList, SourceLabel } from './Panels';
import { StatusBadge } from './StatusBadge';
import { AnchorsTable, CorridorsTable } from './Tables';

export function Dashboard() {
  const { state, connection, reload, tables } = useDashboard();
  const [selected, setSelected] = useState<string | undefined>();
  const [metric, setMetric] = useState<Metric>('successRate');
  const corridorKey = selected && state.history[selected] ? selected : state.corridors[0]?.corridor_key;
  const points = corridorKey ? state.history[corridorKey] ?? [] : [];
  const lastPointAt = points.length ? points[points.length - 1].t : 0;
  const horizon = horizonNetwork(state.source) !== undefined;

  return (
    <main>
      <header className="top">
        <div>
          <h1>Stellar Insights</h1>
          <p className="muted">Payment corridors, anchors and snapshots, live.</p>
          <SourceLabel source={state.source} />
        </div>
        <StatusBadge status={connection.status} loadError={connection.loadFailed ? connection.error?.message : undefined} onReconnect={connection.connect} />
      </header>

      {state.demo && (
        <p className="demo" role="note" data-testid="demo-banner">
          <strong>Demo data.</strong> The server runs in demo mode: these corridors, anchors and figures are generated, not real Stellar network activity.
        </p>
      )}
      {state.loadError && (
        <p className="error" role="alert">
          Could not load data: {state.loadError}{' '}
          <button type="button" onClick={reload}>
            Retry
          </button>
        </p>
      )}

      <div className="grid">
        <section aria-labelledby="corridors-h" className="card wide">
          <div className="card-head">
            <h2 id="corridors-h">Corridors</h2>
            {horizon && <span className="muted small">last 24 h</span>}
          </div>
          {tables.synced ? <CorridorsTable rows={tables.corridors} selected={corridorKey} onSelect={setSelected} ingest={horizon ? state.ingest : undefined} history={state.history} /> : <p className="muted">Loading…</p>}
        </section>

        <section aria-labelledby="chart-h" className="card">
          <div className="card-head">
            <h2 id="chart-h">Live chart</h2>
            <div className="segmented" role="group" aria-label="Metric">
              <button type="button" aria-pressed={metric === 'successRate'} onClick={() => setMetric('successRate')}>
                Success rate
              </button>
              <button type="button" aria-pressed={metric === 'volume'} onClick={() => setMetric('volume')}>
                Volume
              </button>
            </div>
          </div>
          {state.corridors.length > 0 && (
            <label className="select">
              Corridor{' '}
              <select value={corridorKey} onChange={(e) => setSelected(e.target.value)}>
                {state.corridors.map((c) => (
                  <option key={c.id} value={c.corridor_key}>
                    {c.corridor_key}
                  </option>
                ))}
              </select>
            </label>
          )}
          {corridorKey ? <LiveChart points={points} metric={metric} now={lastPointAt} /> : <p className="muted">No corridor to chart.</p>}
        </section>

        <section aria-labelledby="anchors-h" className="card">
          <h2 id="anchors-h">Anchors</h2>
          {tables.synced ? <AnchorsTable rows={tables.anchors} /> : <p className="muted">Loading…</p>}
        </section>

        <section aria-labelledby="snapshots-h" className="card">
          <h2 id="snapshots-h">Latest snapshots</h2>
          {state.loaded ? <SnapshotsList snapshots={state.snapshots} /> : <p className="muted">Loading…</p>}
        </section>

        <section aria-labelledby="log-h" className="card wide">
          <h2 id="log-h">Messages</h2>
          <MessageLog entries={state.log} />
        </section>
      </div>
    </main>
  );
}
