import type { WsCorridorUpdate, WsMessage } from '@/lib/websocket';

export function describeMessage(message: WsMessage | null): string {
  if (!message) return 'none';
  switch (message.type) {
    case 'snapshot_update':
      return `snapshot ${message.snapshot_id} (epoch ${message.epoch})`;
    case 'corridor_update':
      return `corridor ${message.corridor_key}`;
    case 'anchor_update':
      return `anchor ${message.name}`;
    case 'ping':
    case 'pong':
      return `${message.type} ${message.timestamp}`;
    case 'connected':
      return `connected ${message.connection_id}`;
    case 'error':
      return `error: ${message.message}`;
  }
}

export function successRate(update: WsCorridorUpdate): string {
  return `${update.success_rate.toFixed(2)}%`;
}
