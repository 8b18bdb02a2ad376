// REST client for the server's JSON API (the dashboard's initial load and
// its reload after `resync_required`).

/** An anchor as returned by `GET /api/anchors`. */
export interface Anchor {
  id: string;
  name: string;
  stellar_account: string;
  home_domain?: string | null;
  total_transactions: number;
  successful_transactions: number;
  failed_transactions: number;
  total_volume_usd: number;
  avg_settlement_time_ms?: number | null;
  reliability_score: number;
  status: string;
  created_at: string;
  updated_at: string;
}

/** A corridor as returned by `GET /api/corridors`. */
export interface Corridor {
  id: string;
  corridor_key: string;
  source_asset_code: string;
  source_asset_issuer: string;
  dest_asset_code: string;
  dest_asset_issuer: string;
  success_rate: number;
  volume_usd: number;
  total_transactions: number;
  successful_transactions?: number;
  created_at?: string;
  updated_at?: string;
}

/** A snapshot as returned by `GET /api/snapshots`. */
export interface Snapshot {
  id: string;
  epoch: number;
  timestamp: string;
  hash: string;
}

/** `GET /health`. */
export interface Health {
  status?: string;
  demo?: boolean;
}

/** A non-2xx answer or an unreachable server. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * Base URL of the REST API: NEXT_PUBLIC_API_URL when set; under `next dev`
 * the server's default port 8080 on the page's host; in the static export
 * the page's own origin (the server that served the page).
 */
export function apiBase(): string {
  const configured = process.env.NEXT_PUBLIC_API_URL;
  if (configured && configured.trim() !== '') return configured.trim().replace(/\/+$/, '');
  if (process.env.NODE_ENV === 'development' && typeof window !== 'undefined') {
    return `${window.location.protocol}//${window.location.hostname}:8080`;
  }
  return '';
}

/** GET a JSON document; errors carry the server's `{error, field}` message. */
export async function getJson<T>(path: string, base = apiBase(), fetchImpl: typeof fetch = fetch): Promise<T> {
  let response: Response;
  try {
    response = await fetchImpl(`${base}${path}`, { headers: { accept: 'application/json' } });
  } catch (error) {
    throw new ApiError(`GET ${path}: server unreachable (${error instanceof Error ? error.message : String(error)})`);
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    throw new ApiError(`GET ${path}: HTTP ${response.status}, body is not JSON`, response.status);
  }
  if (!response.ok) {
    const err = (body ?? {}) as { error?: unknown; field?: unknown };
    const message = typeof err.error === 'string' ? err.error : `HTTP ${response.status}`;
    throw new ApiError(`GET ${path}: ${message}`, response.status, typeof err.field === 'string' ? err.field : undefined);
  }
  return body as T;
}

/** Everything the dashboard shows, loaded in parallel. */
export interface DashboardData {
  anchors: Anchor[];
  corridors: Corridor[];
  snapshots: Snapshot[];
  health: Health;
}

export async function loadDashboard(base = apiBase(), fetchImpl: typeof fetch = fetch): Promise<DashboardData> {
  const [anchors, corridors, snapshots, health] = await Promise.all([
    getJson<Anchor[]>('/api/anchors', base, fetchImpl),
    getJson<Corridor[]>('/api/corridors', base, fetchImpl),
    getJson<Snapshot[]>('/api/snapshots', base, fetchImpl),
    getJson<Health>('/health', base, fetchImpl),
  ]);
  for (const [name, value] of [['anchors', anchors], ['corridors', corridors], ['snapshots', snapshots]] as const) {
    if (!Array.isArray(value)) throw new ApiError(`GET /api/${name}: expected a JSON array`);
  }
  return { anchors, corridors, snapshots, health: health ?? {} };
}
