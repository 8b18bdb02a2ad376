// The dashboard's state and the pure reducer that applies REST loads and live
// messages to it. Kept free of React so every rule here is unit-tested.
import type { WsMessage } from 'stellar-insights-ws';
import { horizonNetwork, type Anchor, type DashboardData, type HistoryPoint, type IngestCorridor, type IngestResult, type Snapshot } from './api';

/** Anchor row. `flash` counts live changes (0 = never changed since load). */
export interface AnchorRow {
  id: string;
  name: string;
  /** Unknown until loaded through REST (a live update does not carry it). */
  stellar_account?: string;
  reliability_score: number;
  status: string;
  flash: number;
}

/** Corridor row. `flash` counts live changes. */
export interface CorridorRow {
  id: string;
  corridor_key: string;
  success_rate: number;
  volume_usd: number;
  total_transactions: number;
  flash: number;
}

/**
 * One point of a corridor's live series. `t` is ms since the epoch. `volume`
 * is `null` when the corridor's volume is unpriced (see {@link noUsdPrice}):
 * the chart leaves it out instead of drawing $0.
 */
export interface Point {
  t: number;
  successRate: number;
  volume: number | null;
}

/** One line of the message log. */
export interface LogEntry {
  id: number;
  at: number;
  type: string;
  text: string;
  /** The corridor update described, kept to say "no price" once ingestion's details arrive. */
  corridorUpdate?: Extract<WsMessage, { type: 'corridor_update' }>;
}

export interface DashboardState {
  anchors: AnchorRow[];
  corridors: CorridorRow[];
  /** Newest first, at most {@link MAX_SNAPSHOTS}. */
  snapshots: Snapshot[];
  /** Per corridor key, oldest first, within {@link HISTORY_MS}. */
  history: Record<string, Point[]>;
  /** Newest first, at most {@link MAX_LOG}. */
  log: LogEntry[];
  demo: boolean;
  /** `/health`'s `source` (`demo`, `rest`, `horizon-public`, ...); undefined before the first load. */
  source?: string;
  /** Horizon ingestion's details by corridor key; empty unless the source is Horizon. */
  ingest: Record<string, IngestCorridor>;
  /** Ticket of the ingestion details shown; an answer to an older request is ignored. */
  ingestTicket: number;
  loaded: boolean;
  loadError?: string;
  /** Id of the newest REST load; older loads' results are ignored. */
  loadGeneration: number;
  /** True while the newest load runs: live updates are also kept to replay after it. */
  loading: boolean;
  buffered: WsMessage[];
  nextLogId: number;
  /**
   * Accounts by anchor id, kept across reloads: a live update does not carry
   * the account, and a reload that replays buffered updates must not lose
   * one fetched meanwhile.
   */
  accounts: Record<string, string>;
}

/** Snapshots shown. */
export const MAX_SNAPSHOTS = 10;
/** Log lines kept. */
export const MAX_LOG = 50;
/** Span of the live chart's history and the sparklines, ms (60 minutes, what the server keeps). */
export const HISTORY_MS = 60 * 60 * 1000;
/** Points kept per corridor, whatever their age. */
export const MAX_POINTS = 600;
/** Messages buffered during one REST load; beyond this the oldest are dropped (the load covers them). */
export const MAX_BUFFERED = 5000;

export const initialDashboard: DashboardState = {
  anchors: [],
  corridors: [],
  snapshots: [],
  history: {},
  log: [],
  demo: false,
  ingest: {},
  ingestTicket: 0,
  loaded: false,
  loadGeneration: 0,
  loading: false,
  buffered: [],
  nextLogId: 1,
  accounts: {},
};

export type DashboardAction =
  | { type: 'load_start'; generation: number }
  | { type: 'load_done'; generation: number; data: DashboardData; at: number }
  | { type: 'load_failed'; generation: number; message: string }
  | { type: 'message'; message: WsMessage; at: number }
  | { type: 'anchor_details'; anchor: Anchor }
  | { type: 'ingest_done'; result: IngestResult };

export function reduce(state: DashboardState, action: DashboardAction): DashboardState {
  switch (action.type) {
    case 'load_start':
      return { ...state, loadGeneration: action.generation, loading: true, buffered: [] };
    case 'load_done': {
      if (action.generation !== state.loadGeneration) return state;
      const { data, at } = action;
      let next: DashboardState = {
        ...state,
        loaded: true,
        loading: false,
        loadError: undefined,
        buffered: [],
        demo: data.health.demo === true,
        source: data.health.source ?? (data.health.demo === true ? 'demo' : undefined),
        anchors: data.anchors.map((a) => ({
          id: a.id,
          name: a.name,
          stellar_account: a.stellar_account,
          reliability_score: a.reliability_score,
          status: a.status,
          flash: 0,
        })),
        corridors: data.corridors.map((c) => ({
          id: c.id,
          corridor_key: c.corridor_key,
          success_rate: c.success_rate,
          volume_usd: c.volume_usd,
          total_transactions: c.total_transactions,
          flash: 0,
        })),
        snapshots: [...data.snapshots].sort((a, b) => b.epoch - a.epoch).slice(0, MAX_SNAPSHOTS),
        history: { ...state.history },
        accounts: { ...state.accounts, ...Object.fromEntries(data.anchors.map((a) => [a.id, a.stellar_account])) },
      };
      // The server's recent history goes before the points this page saw live.
      for (const [key, points] of Object.entries(data.history ?? {})) {
        next.history[key] = withHistory(next.history[key], points, state.ingest, key, at);
      }
      for (const c of next.corridors) {
        const series = next.history[c.corridor_key];
        const last = series?.[series.length - 1];
        // A reload that found nothing new adds no point to the chart.
        const volume = pointVolume(state.ingest, c.corridor_key, c.volume_usd);
        if (last && last.successRate === c.success_rate && last.volume === volume) continue;
        next.history[c.corridor_key] = addPoint(series, { t: at, successRate: c.success_rate, volume });
      }
      // Updates that arrived while the load ran may be newer than what it read;
      // they carry absolute values, so applying them again is harmless.
      for (const message of state.buffered) next = applyUpdate(next, message, at);
      // A source that is not Horizon has no ingestion details (the server's data may have changed source).
      return data.ingest ? applyIngest(next, data.ingest) : { ...next, ingest: {} };
    }
    case 'load_failed':
      if (action.generation !== state.loadGeneration) return state;
      return { ...state, loading: false, loadError: action.message, buffered: [] };
    case 'message': {
      const m = action.message;
      const entry: LogEntry = { id: state.nextLogId, at: action.at, type: m.type, text: describe(m, state.ingest), ...(m.type === 'corridor_update' ? { corridorUpdate: m } : {}) };
      let next: DashboardState = { ...state, nextLogId: state.nextLogId + 1, log: [entry, ...state.log].slice(0, MAX_LOG) };
      if (state.loading && isUpdate(action.message)) {
        next.buffered = [...state.buffered, action.message].slice(-MAX_BUFFERED);
      }
      next = applyUpdate(next, action.message, action.at);
      return next;
    }
    case 'anchor_details': {
      const a = action.anchor;
      return {
        ...state,
        accounts: { ...state.accounts, [a.id]: a.stellar_account },
        anchors: state.anchors.map((row) => (row.id === a.id ? { ...row, stellar_account: a.stellar_account } : row)),
      };
    }
    case 'ingest_done':
      return applyIngest(state, action.result);
  }
}

/**
 * Replaces the ingestion details unless newer ones are shown already. A
 * corridor whose details did not change keeps its object, so its memoised
 * row does not render again.
 */
function applyIngest(state: DashboardState, result: IngestResult): DashboardState {
  if (result.ticket <= state.ingestTicket) return state;
  const ingest: Record<string, IngestCorridor> = {};
  for (const row of result.corridors) {
    const old = state.ingest[row.corridor_key];
    ingest[row.corridor_key] = old && JSON.stringify(old) === JSON.stringify(row) ? old : row;
  }
  // Lines and points written before the details said "unpriced" showed $0: now they say so.
  const log = state.log.map((e) => (e.corridorUpdate && e.corridorUpdate.volume_usd === 0 && noUsdPrice(ingest[e.corridorUpdate.corridor_key]) ? { ...e, text: describe(e.corridorUpdate, ingest) } : e));
  let history = state.history;
  for (const [key, series] of Object.entries(state.history)) {
    if (!noUsdPrice(ingest[key]) || !series.some((p) => p.volume === 0)) continue;
    if (history === state.history) history = { ...state.history };
    history[key] = series.map((p) => (p.volume === 0 ? { ...p, volume: null } : p));
  }
  return { ...state, ingest, ingestTicket: result.ticket, log, history };
}

/**
 * Whether every successful payment of this corridor in the last 24 h lacked a
 * USD price (Horizon ingestion's details): its volume is unknown, not zero, and
 * the page says "no price". The v1 frame cannot say it (its `volume_usd` is 0).
 */
export function noUsdPrice(detail: IngestCorridor | undefined): boolean {
  const day = detail?.window_24h;
  return day !== undefined && day.successes > 0 && day.unpriced >= day.successes;
}

/** The chart's volume of a corridor: `null` when it is 0 because nothing had a price. */
function pointVolume(ingest: Record<string, IngestCorridor>, key: string, volume: number): number | null {
  return volume === 0 && noUsdPrice(ingest[key]) ? null : volume;
}

function isUpdate(m: WsMessage): boolean {
  return m.type === 'corridor_update' || m.type === 'anchor_update' || m.type === 'snapshot_update';
}

function applyUpdate(state: DashboardState, m: WsMessage, at: number): DashboardState {
  switch (m.type) {
    case 'corridor_update': {
      const fields = { id: m.corridor_id, corridor_key: m.corridor_key, success_rate: m.success_rate, volume_usd: m.volume_usd, total_transactions: m.total_transactions };
      const i = state.corridors.findIndex((c) => c.id === m.corridor_id);
      const corridors = i < 0 ? [...state.corridors, { ...fields, flash: 1 }] : state.corridors.map((c, j) => (j === i ? { ...fields, flash: c.flash + 1 } : c));
      const point = { t: at, successRate: m.success_rate, volume: pointVolume(state.ingest, m.corridor_key, m.volume_usd) };
      const history = { ...state.history, [m.corridor_key]: addPoint(state.history[m.corridor_key], point) };
      return { ...state, corridors, history };
    }
    case 'anchor_update': {
      const i = state.anchors.findIndex((a) => a.id === m.anchor_id);
      const anchors =
        i < 0
          ? [...state.anchors, { id: m.anchor_id, name: m.name, stellar_account: state.accounts[m.anchor_id], reliability_score: m.reliability_score, status: m.status, flash: 1 }]
          : state.anchors.map((a, j) => (j === i ? { ...a, name: m.name, reliability_score: m.reliability_score, status: m.status, flash: a.flash + 1 } : a));
      return { ...state, anchors };
    }
    case 'snapshot_update': {
      if (state.snapshots.some((s) => s.id === m.snapshot_id)) return state;
      const snapshot: Snapshot = { id: m.snapshot_id, epoch: m.epoch, timestamp: m.timestamp, hash: m.hash };
      return { ...state, snapshots: [snapshot, ...state.snapshots].sort((a, b) => b.epoch - a.epoch).slice(0, MAX_SNAPSHOTS) };
    }
    default:
      return state;
  }
}

/**
 * `series` with the server's points that are older than its first one put in
 * front (the page's own points stay: they may be newer than the history read).
 */
function withHistory(series: Point[] | undefined, points: HistoryPoint[], ingest: Record<string, IngestCorridor>, key: string, at: number): Point[] {
  const first = series?.[0]?.t ?? Infinity;
  const older = points
    .filter((p) => Number.isFinite(p.t) && p.t < first && at - p.t <= HISTORY_MS)
    .map((p) => ({ t: p.t, successRate: p.success_rate, volume: pointVolume(ingest, key, p.volume_usd) }));
  return older.length === 0 ? (series ?? []) : [...older, ...(series ?? [])].slice(-MAX_POINTS);
}

function addPoint(series: Point[] | undefined, point: Point): Point[] {
  const kept = (series ?? []).filter((p) => point.t - p.t <= HISTORY_MS);
  kept.push(point);
  return kept.slice(-MAX_POINTS);
}

/** Anchor ids whose account is unknown (created live): the page fetches them. */
export function anchorsMissingDetails(state: DashboardState): string[] {
  return state.anchors.filter((a) => a.stellar_account === undefined).map((a) => a.id);
}

/**
 * One-line, plain-text summary of a message for the log. `ingest`: Horizon
 * ingestion's details, to say "no price" for a corridor whose $0 is unpriced.
 */
export function describe(m: WsMessage, ingest: Record<string, IngestCorridor> = {}): string {
  switch (m.type) {
    case 'connected':
      return `connection ${m.connection_id}${m.resumed ? ' resumed' : ''}${m.seq !== undefined ? ` at seq ${m.seq}` : ''}`;
    case 'corridor_update':
      return `${shortKey(m.corridor_key)}: ${m.success_rate.toFixed(2)}% of ${m.total_transactions} tx, ${pointVolume(ingest, m.corridor_key, m.volume_usd) === null ? 'no price' : formatUsd(m.volume_usd)}`;
    case 'anchor_update':
      return `${m.name}: score ${m.reliability_score.toFixed(2)}, ${m.status}`;
    case 'snapshot_update':
      return `epoch ${m.epoch}, hash ${shortHash(m.hash)}`;
    case 'error':
      return `${m.code ? `${m.code}: ` : ''}${m.message}`;
    case 'resync_required':
      return `missed updates cannot be replayed${m.reason ? ` (${m.reason})` : ''}; reloading`;
    case 'ping':
    case 'pong':
      return `timestamp ${m.timestamp}`;
    default:
      return '';
  }
}

/** `G` + 4 … last 4 of a Stellar account. */
export function shortAccount(account: string): string {
  return account.length > 12 ? `${account.slice(0, 5)}…${account.slice(-4)}` : account;
}

/** `CODE:ISSUER->CODE:ISSUER` with each issuer shortened, e.g. `USDC:GA5ZS…KZVN → EURC:GDHU6…2XYZ`. */
export function shortKey(key: string): string {
  return key
    .split('->')
    .map((side) => {
      const [code, issuer] = side.split(':');
      return issuer ? `${code}:${shortAccount(issuer)}` : side;
    })
    .join(' → ');
}

/** Words for `/health`'s `source`: `demo`, `REST`, `Horizon public`, `Horizon testnet`. */
export function sourceLabel(source: string): string {
  const network = horizonNetwork(source);
  if (network !== undefined) return `Horizon ${network}`;
  return source === 'rest' ? 'REST' : source;
}

/** First 10 hex digits of a hash. */
export function shortHash(hash: string): string {
  return hash.slice(0, 10);
}

const usd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 0 });

/** US dollars without cents, e.g. `$1,234,567`. */
export function formatUsd(value: number): string {
  return usd.format(value);
}
