'use client';

import { useState } from 'react';
import { useWebSocket } from '@/hooks/useWebSocket';

export function ManualControls() {
  const [pongs, setPongs] = useState(0);
  const { isConnected, connect, disconnect, ping } = useWebSocket({
    autoConnect: false,
    onMessage: (message) => {
      if (message.type === 'pong') setPongs((n) => n + 1);
    },
  });
  return (
    <section>
      <h2>Manual</h2>
      <p data-testid="manual-status">{isConnected ? 'open' : 'closed'}</p>
      <button onClick={connect}>Connect</button>
      <button onClick={disconnect}>Disconnect</button>
      <button onClick={ping}>Send Ping</button>
      <p data-testid="pongs">{pongs}</p>
    </section>
  );
}
