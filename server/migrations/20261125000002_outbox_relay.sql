-- Redis mode (REDIS_URL set): update_log is the outbox and `seq` only its local
-- row id; the relay copies each row to the Redis stream, which assigns the
-- deployment-wide sequence number, and records it here. NULL = not relayed yet.
ALTER TABLE update_log ADD COLUMN relayed_seq BIGINT;
CREATE INDEX update_log_unrelayed ON update_log (seq) WHERE relayed_seq IS NULL;
CREATE INDEX update_log_relayed_seq ON update_log (relayed_seq);
