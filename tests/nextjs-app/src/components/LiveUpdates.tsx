'use client';

import { useState } from 'react';
import { useAnchorUpdates, useCorridorUpdates, useSnapshotUpdates } from '@/hooks/useWebSocket';
import { successRate } from '@/lib/format';

export function LiveUpdates() {
  const [snapshots, setSnapshots] = useState<string[]>([]);
  const [corridors, setCorridors] = useState<Record<string, string>>({});
  const [anchors, setAnchors] = useState<string[]>([]);
  useSnapshotUpdates((update) => setSnapshots((s) => [...s, `${update.snapshot_id}@${update.epoch}`]));
  useCorridorUpdates((update) => setCorridors((c) => ({ ...c, [update.corridor_key]: successRate(update) })));
  useAnchorUpdates((update) => setAnchors((a) => [...a, `${update.name}:${update.reliability_score}`]));
  return (
    <section>
      <h2>Live updates</h2>
      <ul>
        {snapshots.map((s) => (
          <li key={s} data-testid="snapshot">
            {s}
          </li>
        ))}
      </ul>
      <ul>
        {Object.entries(corridors).map(([key, rate]) => (
          <li key={key} data-testid="corridor" data-key={key}>
            {key} {rate}
          </li>
        ))}
      </ul>
      <ul>
        {anchors.map((a) => (
          <li key={a} data-testid="anchor">
            {a}
          </li>
        ))}
      </ul>
    </section>
  );
}
