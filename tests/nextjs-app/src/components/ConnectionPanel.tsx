'use client';

import { useState } from 'react';
import { useWebSocket } from '@/hooks/useWebSocket';
import { describeMessage } from '@/lib/format';
import type { WsMessage } from '@/lib/websocket';

export function ConnectionPanel() {
  const [events, setEvents] = useState<string[]>([]);
  const [errors, setErrors] = useState<string[]>([]);
  const [frames, setFrames] = useState(0);
  const { isConnected, connectionId, lastMessage } = useWebSocket({
    onMessage: (message: WsMessage) => {
      setFrames((n) => n + 1);
      if (message.type === 'connected') setEvents((e) => [...e, 'connected frame']);
    },
    onConnect: () => setEvents((e) => [...e, 'connect']),
    onDisconnect: () => setEvents((e) => [...e, 'disconnect']),
    onError: (error: string) => setErrors((e) => [...e, error]),
  });
  return (
    <section>
      <h2>Connection</h2>
      <p data-testid="status">{isConnected ? 'Connected' : 'Disconnected'}</p>
      <p data-testid="connection-id">{connectionId ?? ''}</p>
      <p data-testid="last-message">{describeMessage(lastMessage)}</p>
      <p data-testid="frames">{frames}</p>
      <p data-testid="events">{events.join(', ')}</p>
      <p data-testid="errors">{errors.join(' | ')}</p>
    </section>
  );
}
