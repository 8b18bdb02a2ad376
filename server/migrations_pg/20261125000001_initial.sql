-- PostgreSQL twin of migrations/20261125000001_initial.sql. `seq` has no
-- sequence: writes assign MAX(seq) + 1 under the write lock (see store), so there are no holes.
CREATE TABLE anchors (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    stellar_account TEXT NOT NULL UNIQUE,
    home_domain TEXT,
    total_transactions BIGINT NOT NULL DEFAULT 0,
    successful_transactions BIGINT NOT NULL DEFAULT 0,
    failed_transactions BIGINT NOT NULL DEFAULT 0,
    total_volume_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_settlement_time_ms DOUBLE PRECISION,
    reliability_score DOUBLE PRECISION NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE corridors (
    id TEXT PRIMARY KEY NOT NULL,
    corridor_key TEXT NOT NULL UNIQUE,
    source_asset_code TEXT NOT NULL,
    source_asset_issuer TEXT NOT NULL,
    dest_asset_code TEXT NOT NULL,
    dest_asset_issuer TEXT NOT NULL,
    total_transactions BIGINT NOT NULL DEFAULT 0,
    successful_transactions BIGINT NOT NULL DEFAULT 0,
    success_rate DOUBLE PRECISION NOT NULL DEFAULT 0,
    volume_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE snapshots (
    id TEXT PRIMARY KEY NOT NULL,
    epoch BIGINT NOT NULL UNIQUE,
    timestamp TEXT NOT NULL,
    hash TEXT NOT NULL,
    anchor_count BIGINT NOT NULL,
    corridor_count BIGINT NOT NULL
);

-- Transactional outbox: each write inserts its update event here in the same
-- transaction; the relay publishes rows in seq order after commit.
CREATE TABLE update_log (
    seq BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    topic_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL
);
