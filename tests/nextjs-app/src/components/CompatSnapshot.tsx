'use client';

import { useEffect, useState } from 'react';
import { getWebSocketInstance } from '@/lib/websocket';

// The old client class, used directly: a view of the page's one socket.
export function CompatSnapshot() {
  const [snapshotId, setSnapshotId] = useState('');
  useEffect(() => {
    const ws = getWebSocketInstance();
    ws.connect();
    return ws.on('snapshot_update', (message) => {
      if (message.type === 'snapshot_update') setSnapshotId(message.snapshot_id);
    });
  }, []);
  return <p data-testid="compat-snapshot">{snapshotId}</p>;
}
