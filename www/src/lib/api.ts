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
  /** What feeds the data: `demo`, `rest`, `horizon-public` or `horizon-testnet`. */
  source?: string;
}

/** One window of `GET /api/ingest/corridors` (the server's `ingest::metrics::Summary`). */
export interface IngestWindow {
  attempts: number;
  successes: number;
  /** Percent 0–100, 2 decimals. */
  success_rate: number;
  volume_usd: number;
  /** Successful attempts without a USD price (they add no volume). */
  unpriced: number;
  /** Failed attempts by operation result code, e.g. `{"op_underfunded": 3}`. */
  failures: Record<string, number>;
}

/** A corridor as Horizon ingestion sees it, from `GET /api/ingest/corridors`. */
export interface IngestCorridor {
  corridor_key: string;
  /** Most frequent result code of the 24 h window's failures; null without failures. */
  top_failure_reason: string | null;
  window_24h: IngestWindow;
  window_1h: IngestWindow;
}

/** The network (`public`, `testnet`) when `/health`'s `source` says Horizon ingestion feeds the data. */
export function horizonNetwork(source: string | undefined): string | undefined {
  return source?.startsWith('horizon-') ? source.slice('horizon-'.length) : undefined;
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

/** GET a JSON array; anything else is an ApiError. */
async function getArray<T>(path: string, base: string, fetchImpl: typeof fetch): Promise<T[]> {
  const value = await getJson<T[]>(path, base, fetchImpl);
  if (!Array.isArray(value)) throw new ApiError(`GET ${path}: expected a JSON array`);
  return value;
}

/** The ingestion's corridor details and the order in which their request started. */
export interface IngestResult {
  /** Increases with every request started: a later one read newer data. */
  ticket: number;
  corridors: IngestCorridor[];
}

let ingestTickets = 0;

/** `GET /api/ingest/corridors` (only meaningful when the source is Horizon). */
export async function loadIngest(base = apiBase(), fetchImpl: typeof fetch = fetch): Promise<IngestResult> {
  const ticket = ++ingestTickets;
  return { ticket, corridors: await getArray<IngestCorridor>('/api/ingest/corridors', base, fetchImpl) };
}

/** One point of `GET /api/corridors/history`; `t` is ms since the epoch. */
export interface HistoryPoint {
  t: number;
  success_rate: number;
  volume_usd: number;
  total_transactions: number;
}

/** Minutes of history the chart opens with and the sparklines show (the server keeps 60). */
export const HISTORY_MINUTES = 60;

/**
 * `GET /api/corridors/history?minutes=60`: every corridor's recent values by
 * key, oldest first. `{}` when the answer is not usable: history is an extra,
 * the tables do not wait for it.
 */
export async function loadHistory(base = apiBase(), fetchImpl: typeof fetch = fetch): Promise<Record<string, HistoryPoint[]>> {
  try {
    const body = await getJson<{ corridors?: unknown }>(`/api/corridors/history?minutes=${HISTORY_MINUTES}`, base, fetchImpl);
    const corridors = body?.corridors;
    if (corridors === null || typeof corridors !== 'object' || Array.isArray(corridors)) return {};
    return Object.fromEntries(Object.entries(corridors as Record<string, unknown>).filter(([, points]) => Array.isArray(points))) as Record<string, HistoryPoint[]>;
  } catch {
    return {};
  }
}

/** Everything the dashboard shows, loaded in parallel. */
export interface DashboardData {
  anchors: Anchor[];
  corridors: Corridor[];
  snapshots: Snapshot[];
  health: Health;
  /** Asked only when `health.source` is Horizon; absent otherwise. */
  ingest?: IngestResult;
  /** Recent values by corridor key ({@link loadHistory}); absent when not asked. */
  history?: Record<string, HistoryPoint[]>;
}

export async function loadDashboard(base = apiBase(), fetchImpl: typeof fetch = fetch): Promise<DashboardData> {
  const [anchors, corridors, snapshots, [health, ingest], history] = await Promise.all([
    getArray<Anchor>('/api/anchors', base, fetchImpl),
    getArray<Corridor>('/api/corridors', base, fetchImpl),
    getArray<Snapshot>('/api/snapshots', base, fetchImpl),
    getJson<Health | null>('/health', base, fetchImpl).then(async (h) => {
      const health = h ?? {};
      return [health, horizonNetwork(health.source) !== undefined ? await loadIngest(base, fetchImpl) : undefined] as const;
    }),
    loadHistory(base, fetchImpl),
  ]);
  return { anchors, corridors, snapshots, health, history, ...(ingest ? { ingest } : {}) };
}
