-- Horizon ingestion (INGEST=horizon). The cursor and the window buckets it
-- produced commit in one transaction with the corridor/anchor updates.
CREATE TABLE ingest_cursor (
    stream TEXT PRIMARY KEY NOT NULL,
    paging_token TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- One row per metric key (corridor key, or `anchor:<account>`) and minute
-- (Unix seconds / 60, by ledger close time); failures is a JSON object
-- {result_code: count}. Rows older than 24 h are deleted.
CREATE TABLE ingest_buckets (
    metric_key TEXT NOT NULL,
    minute BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    successes BIGINT NOT NULL,
    volume_usd DOUBLE PRECISION NOT NULL,
    unpriced BIGINT NOT NULL,
    failures TEXT NOT NULL,
    PRIMARY KEY (metric_key, minute)
);
