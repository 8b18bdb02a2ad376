-- Recent history of each corridor's metrics, for the dashboard's chart and
-- sparklines (GET /api/corridors/{key}/history, GET /api/corridors/history).
-- Written in the same transaction as each corridor write; one row per corridor
-- and 10-second step (`step` = Unix ms / 10 000) holding the newest value of
-- that step, so a corridor has at most 360 rows an hour whatever its write rate.
-- Each write deletes its corridor's rows more than 60 minutes and one step
-- older (at most 362 rows per corridor).
CREATE TABLE corridor_history (
    corridor_id TEXT NOT NULL,
    step BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    success_rate DOUBLE PRECISION NOT NULL,
    volume_usd DOUBLE PRECISION NOT NULL,
    total_transactions BIGINT NOT NULL,
    PRIMARY KEY (corridor_id, step)
);
