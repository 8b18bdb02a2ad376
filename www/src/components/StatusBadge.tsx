'use client';
import { useEffect, useState } from 'react';
import type { ConnectionStatus } from '@/hooks/useWebSocket';

/**
 * Re-renders once per second, and only while a countdown is shown: the
 * connection state itself arrives by subscription, never by polling.
 */
function useSecondsUntil(deadline: number | undefined): number | undefined {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (deadline === undefined) return;
    const remaining = deadline - Date.now();
    if (remaining <= 0) return;
    const timer = setTimeout(() => setNow(Date.now()), remaining % 1000 || 1000);
    return () => clearTimeout(timer);
  }, [deadline, now]);
  return deadline === undefined ? undefined : Math.max(0, Math.ceil((deadline - now) / 1000));
}

export function StatusBadge({ status, loadError, onReconnect }: { status: ConnectionStatus; loadError?: string; onReconnect: () => void }) {
  const seconds = useSecondsUntil(status.state === 'reconnecting' ? status.nextAttemptAt : undefined);
  let label: string;
  let tone: 'ok' | 'warn' | 'bad';
  switch (loadError ? 'load_failed' : status.state) {
    case 'load_failed':
      label = 'Live updates unavailable';
      tone = 'bad';
      break;
    case 'open':
      label = 'Connected';
      tone = 'ok';
      break;
    case 'reconnecting':
      label = seconds !== undefined && seconds > 0 ? `Reconnecting in ${seconds} s` : 'Reconnecting…';
      tone = 'warn';
      break;
    case 'gave_up':
      label = 'Gave up reconnecting';
      tone = 'bad';
      break;
    case 'closed':
      label = 'Disconnected';
      tone = 'bad';
      break;
    default:
      label = 'Connecting…';
      tone = 'warn';
  }
  const showButton = loadError !== undefined || status.state === 'gave_up' || status.state === 'closed' || status.state === 'reconnecting';
  return (
    <div className="status">
      <span className={`badge badge-${tone}`} data-testid="connection-status" data-state={loadError ? 'load_failed' : status.state} title={loadError} role="status" aria-live="polite">
        <span className="dot" aria-hidden="true" />
        {label}
      </span>
      {status.state === 'open' && status.leader === false && (
        <span className="muted small" data-testid="shared-via">
          live via another tab
        </span>
      )}
      {status.state === 'reconnecting' && status.attempt > 0 && <span className="muted">attempt {status.attempt}</span>}
      {loadError && <span className="muted small">{loadError}</span>}
      {showButton && (
        <button type="button" onClick={onReconnect}>
          {status.state === 'reconnecting' ? 'Retry now' : 'Reconnect'}
        </button>
      )}
    </div>
  );
}
