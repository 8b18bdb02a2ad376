//! Redis side of scale-out (`REDIS_URL`): one stream is the deployment-wide update log.
//!
//! Keys (prefix `REDIS_KEY_PREFIX`, default `stellar-insights`):
//! - `<prefix>:seq`: the last global sequence number issued (`INCR`).
//! - `<prefix>:updates`: the stream; entry id `<seq>-0`, fields `kind`, `key`, `payload`;
//!   trimmed to about `UPDATE_LOG_RETENTION` entries (`MAXLEN ~`).
//! - `<prefix>:relayed:<outbox id>`: which seq an outbox row got, kept [`MARKER_TTL_SECS`],
//!   so a relay that crashed after appending but before marking the row in the
//!   database appends nothing twice when the row is claimed again.
//!
//! Connections are opened lazily and dropped on any error, so a Redis outage costs
//! failed calls (each bounded by a 2 s response timeout) and the next call reconnects.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisResult};
use tokio::sync::Mutex;

use crate::store::LoggedUpdate;

/// Connect timeout of a Redis connection. Value 1 s.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest a Redis command may take before it counts as failed. Value 2 s.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// After a failed connect, calls fail at once for this long instead of each waiting
/// for its own connect timeout (a reconnect storm while Redis is cut off). Value 500 ms.
const RETRY_AFTER: Duration = Duration::from_millis(500);
/// How long a dedup marker lives: longer than any outbox row can wait for its relay
/// to mark it. Value 86 400 s (one day).
pub const MARKER_TTL_SECS: u64 = 86_400;

/// Appends outbox rows to the stream atomically: per row, reuses the seq it got before
/// (dedup marker) or takes the next one, `XADD`s with the explicit id `<seq>-0`, and
/// sets the marker. When the counter is missing (Redis lost or evicted it), it restarts
/// from the highest of the caller's floor (the highest seq the database recorded) and
/// the stream's last entry, so numbers never go backwards.
const APPEND_LUA: &str = r"
local prefix, maxlen, ttl, floor = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
if redis.call('EXISTS', KEYS[1]) == 0 then
  local top = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
  if top[1] then
    local last = tonumber(string.match(top[1][1], '^(%d+)'))
    if last > floor then floor = last end
  end
  redis.call('SET', KEYS[1], floor)
end
local out = {}
for i = 5, #ARGV, 4 do
  local marker = prefix .. ARGV[i]
  local seq = redis.call('GET', marker)
  if not seq then
    seq = redis.call('INCR', KEYS[1])
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', maxlen, seq .. '-0',
      'kind', ARGV[i + 1], 'key', ARGV[i + 2], 'payload', ARGV[i + 3])
    redis.call('SET', marker, seq, 'EX', ttl)
  end
  out[#out + 1] = tonumber(seq)
end
return out
";

/// Client of the shared stream; one per server process.
pub struct RedisBus {
    client: redis::Client,
    conn: Mutex<Option<MultiplexedConnection>>,
    retry_at: std::sync::Mutex<Option<Instant>>,
    seq_key: String,
    stream_key: String,
    marker_prefix: String,
    retention: u64,
    append: redis::Script,
    healthy: AtomicBool,
}

/// Stream entry as `(id, [field, value, ...])`.
type Entry = (String, Vec<String>);

fn entry_to_update(entry: Entry) -> RedisResult<LoggedUpdate> {
    let (id, fields) = entry;
    let bad = |what: &str| {
        redis::RedisError::from((
            redis::ErrorKind::Parse,
            "malformed stream entry",
            format!("{what} in entry {id}"),
        ))
    };
    let seq = id
        .split_once('-')
        .and_then(|(ms, _)| ms.parse::<i64>().ok())
        .ok_or_else(|| bad("bad id"))?;
    let mut row = LoggedUpdate {
        seq,
        kind: String::new(),
        topic_key: String::new(),
        payload: String::new(),
    };
    for pair in fields.chunks_exact(2) {
        let value = pair[1].clone();
        match pair[0].as_str() {
            "kind" => row.kind = value,
            "key" => row.topic_key = value,
            "payload" => row.payload = value,
            _ => {}
        }
    }
    if row.kind.is_empty() || row.payload.is_empty() {
        return Err(bad("missing field"));
    }
    Ok(row)
}

impl RedisBus {
    /// Parses `url` (`redis://host:port/db`); connects on first use.
    pub fn new(url: &str, prefix: &str, retention: u64) -> RedisResult<RedisBus> {
        Ok(RedisBus {
            client: redis::Client::open(url)?,
            conn: Mutex::new(None),
            retry_at: std::sync::Mutex::new(None),
            seq_key: format!("{prefix}:seq"),
            stream_key: format!("{prefix}:updates"),
            marker_prefix: format!("{prefix}:relayed:"),
            retention,
            append: redis::Script::new(APPEND_LUA),
            healthy: AtomicBool::new(false),
        })
    }

    /// Whether the last Redis call succeeded.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    fn record<T>(&self, result: RedisResult<T>) -> RedisResult<T> {
        self.healthy.store(result.is_ok(), Ordering::Relaxed);
        result
    }

    async fn connect(&self, response_timeout: Duration) -> RedisResult<MultiplexedConnection> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(response_timeout));
        self.client
            .get_multiplexed_async_connection_with_config(&config)
            .await
    }

    /// Runs `f` on the shared connection; a failure drops it so the next call reconnects.
    async fn with_conn<T, F, Fut>(&self, f: F) -> RedisResult<T>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = RedisResult<T>>,
    {
        let conn = {
            let mut slot = self.conn.lock().await;
            match slot.as_ref() {
                Some(c) => c.clone(),
                None => {
                    let now = Instant::now();
                    if self.retry_at.lock().unwrap().is_some_and(|at| now < at) {
                        return Err(redis::RedisError::from((
                            redis::ErrorKind::Io,
                            "redis unreachable (recent connect failed)",
                        )));
                    }
                    let connected = self.connect(RESPONSE_TIMEOUT).await;
                    *self.retry_at.lock().unwrap() =
                        connected.is_err().then(|| Instant::now() + RETRY_AFTER);
                    let c = self.record(connected)?;
                    *slot = Some(c.clone());
                    c
                }
            }
        };
        let result = self.record(f(conn).await);
        if result.is_err() {
            *self.conn.lock().await = None;
        }
        result
    }

    /// `PING`: whether Redis answers now.
    pub async fn ping(&self) -> bool {
        self.with_conn(
            |mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await },
        )
        .await
        .is_ok()
    }

    /// Appends outbox `rows` (their `seq` is the outbox id) and returns the global seq
    /// each got, in order. `floor` is the highest seq the database recorded.
    pub async fn append(&self, floor: i64, rows: &[LoggedUpdate]) -> RedisResult<Vec<i64>> {
        self.with_conn(|mut c| async move {
            let mut call = self.append.prepare_invoke();
            call.key(&self.seq_key)
                .key(&self.stream_key)
                .arg(&self.marker_prefix)
                .arg(self.retention)
                .arg(MARKER_TTL_SECS)
                .arg(floor);
            for row in rows {
                call.arg(row.seq)
                    .arg(&row.kind)
                    .arg(&row.topic_key)
                    .arg(&row.payload);
            }
            call.invoke_async(&mut c).await
        })
        .await
    }

    /// `(oldest retained seq, last issued seq)`; the oldest is `None` when the stream is
    /// empty, the last issued `None` when Redis has no counter (new, or lost its data).
    pub async fn bounds(&self) -> RedisResult<(Option<u64>, Option<u64>)> {
        self.with_conn(|mut c| async move {
            let (issued, first): (Option<u64>, Vec<Entry>) = redis::pipe()
                .get(&self.seq_key)
                .cmd("XRANGE")
                .arg(&self.stream_key)
                .arg("-")
                .arg("+")
                .arg("COUNT")
                .arg(1)
                .query_async(&mut c)
                .await?;
            let oldest = match first.into_iter().next() {
                Some(e) => Some(entry_to_update(e)?.seq as u64),
                None => None,
            };
            Ok((oldest, issued))
        })
        .await
    }

    /// Entries with seq > `after`, in order, at most `limit`.
    pub async fn range_after(&self, after: u64, limit: usize) -> RedisResult<Vec<LoggedUpdate>> {
        self.with_conn(|mut c| async move {
            let entries: Vec<Entry> = redis::cmd("XRANGE")
                .arg(&self.stream_key)
                .arg(format!("{}-0", after + 1))
                .arg("+")
                .arg("COUNT")
                .arg(limit)
                .query_async(&mut c)
                .await?;
            entries.into_iter().map(entry_to_update).collect()
        })
        .await
    }

    /// A dedicated connection for [`RedisBus::read_blocking`]: a blocked `XREAD` would
    /// hold up every other command on a shared multiplexed connection.
    pub async fn tail_connection(&self, block: Duration) -> RedisResult<MultiplexedConnection> {
        let conn = self.connect(block + RESPONSE_TIMEOUT).await;
        self.record(conn)
    }

    /// Waits up to `block` for entries with seq > `after`; returns them in order (empty on timeout).
    pub async fn read_blocking(
        &self,
        conn: &mut MultiplexedConnection,
        after: u64,
        block: Duration,
        limit: usize,
    ) -> RedisResult<Vec<LoggedUpdate>> {
        let reply: Option<Vec<(String, Vec<Entry>)>> = self.record(
            redis::cmd("XREAD")
                .arg("COUNT")
                .arg(limit)
                .arg("BLOCK")
                .arg(block.as_millis() as u64)
                .arg("STREAMS")
                .arg(&self.stream_key)
                .arg(format!("{after}-0"))
                .query_async(conn)
                .await,
        )?;
        reply
            .into_iter()
            .flatten()
            .flat_map(|(_, entries)| entries)
            .map(entry_to_update)
            .collect()
    }
}
