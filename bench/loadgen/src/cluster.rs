//! Issue 7: the fan-out measurement pointed at three instances sharing
//! PostgreSQL and Redis, next to one instance on the same services and one on
//! SQLite, same clients, rate and time. Each configuration gets a database and
//! a Redis key prefix of its own, created here and removed afterwards.

use std::process::Command;

use crate::fanout::{self, Outcome};
use crate::harness::Options;
use crate::server::Storage;

/// Instances in the scaled-out configuration. Value 3 (the figure).
pub const CLUSTER_INSTANCES: usize = 3;

/// The services every shared instance uses.
#[derive(Debug, Clone)]
pub struct Services {
    /// `redis://...` of a Redis the run may write keys to (under its own prefix).
    pub redis_url: String,
    /// `postgres://...` of a PostgreSQL where the run may `CREATE DATABASE`.
    pub postgres_url: String,
}

impl Services {
    /// Fails fast, before any measurement, when either service does not answer.
    pub fn check(&self) -> Result<(), String> {
        psql(&self.postgres_url, "SELECT 1")
            .map_err(|e| format!("PostgreSQL at {}: {e}", self.postgres_url))?;
        let pong = run_tool(Command::new("redis-cli").args(["-u", &self.redis_url, "PING"]))
            .map_err(|e| format!("Redis at {}: {e}", self.redis_url))?;
        if pong.trim() != "PONG" {
            return Err(format!(
                "Redis at {} answered {:?} to PING",
                self.redis_url,
                pong.trim()
            ));
        }
        Ok(())
    }
}

/// One measured configuration.
#[derive(Debug)]
pub struct Measured {
    /// What ran, e.g. "3 instances, PostgreSQL + Redis".
    pub label: String,
    /// Its fan-out measurement; `instances` holds one entry per server.
    pub outcome: Outcome,
}

/// `base` with its database name replaced by `name`, query string kept.
pub fn database_url(base: &str, name: &str) -> Result<String, String> {
    let authority = base
        .find("://")
        .map(|i| i + 3)
        .ok_or_else(|| format!("{base:?} is not a postgres:// URL"))?;
    let (head, query) = match base.find('?') {
        Some(q) => base.split_at(q),
        None => (base, ""),
    };
    let host_end = head[authority..]
        .find('/')
        .map_or(head.len(), |i| authority + i);
    Ok(format!("{}/{name}{query}", &head[..host_end]))
}

fn run_tool(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e} (is it installed?)"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn psql(url: &str, sql: &str) -> Result<String, String> {
    run_tool(Command::new("psql").args([url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql]))
}

/// A database and key prefix for one configuration; dropping it removes both.
struct Scratch<'a> {
    services: &'a Services,
    database: String,
    prefix: String,
}

impl<'a> Scratch<'a> {
    fn create(services: &'a Services, tag: &str) -> Result<Scratch<'a>, String> {
        let database = format!("loadgen_{}_{tag}", std::process::id());
        psql(
            &services.postgres_url,
            &format!("CREATE DATABASE {database}"),
        )?;
        Ok(Scratch {
            services,
            prefix: format!("loadgen-{}-{tag}", std::process::id()),
            database,
        })
    }

    fn storage(&self) -> Result<Storage, String> {
        Ok(Storage::Shared {
            database_url: database_url(&self.services.postgres_url, &self.database)?,
            redis_url: self.services.redis_url.clone(),
            key_prefix: self.prefix.clone(),
        })
    }
}

impl Drop for Scratch<'_> {
    // Best effort: a leftover only costs space on a benchmark's own services; say so.
    fn drop(&mut self) {
        let url = &self.services.postgres_url;
        if let Err(e) = psql(
            url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database),
        ) {
            eprintln!("cluster: could not drop database {}: {e}", self.database);
        }
        let redis = &self.services.redis_url;
        let pattern = format!("{}:*", self.prefix);
        let keys = run_tool(Command::new("redis-cli").args([
            "-u",
            redis,
            "--scan",
            "--pattern",
            &pattern,
        ]));
        let result = keys.and_then(|keys| {
            let keys: Vec<&str> = keys.lines().filter(|k| !k.is_empty()).collect();
            keys.chunks(500).try_for_each(|chunk| {
                run_tool(
                    Command::new("redis-cli")
                        .args(["-u", redis, "DEL"])
                        .args(chunk),
                )
                .map(drop)
            })
        });
        if let Err(e) = result {
            eprintln!("cluster: could not delete Redis keys {pattern}: {e}");
        }
    }
}

/// Measures, in this order: one SQLite instance, one instance on PostgreSQL +
/// Redis, and [`CLUSTER_INSTANCES`] instances on PostgreSQL + Redis; each with
/// `clients` clients and `rate` writes/s for `secs` s, round-robin over its instances.
pub async fn measure(
    opts: &Options,
    services: &Services,
    clients: usize,
    rate: u32,
    secs: f64,
) -> Result<Vec<Measured>, String> {
    services.check()?;
    let mut out = Vec::new();
    eprintln!("cluster: 1 instance, SQLite");
    out.push(Measured {
        label: "1 instance, SQLite (default)".into(),
        outcome: fanout::measure(opts, &[Storage::Sqlite], clients, rate, secs).await?,
    });
    for (n, tag) in [(1, "single"), (CLUSTER_INSTANCES, "cluster")] {
        let plural = if n == 1 { "" } else { "s" };
        eprintln!("cluster: {n} instance{plural}, PostgreSQL + Redis");
        let scratch = Scratch::create(services, tag)?;
        let instances = vec![scratch.storage()?; n];
        let outcome = fanout::measure(opts, &instances, clients, rate, secs).await?;
        drop(scratch);
        out.push(Measured {
            label: format!("{n} instance{plural}, PostgreSQL + Redis"),
            outcome,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_swaps_only_the_database_name() {
        let u = |base| database_url(base, "loadgen_1_cluster").unwrap();
        assert_eq!(
            u("postgres://postgres@127.0.0.1:5432/postgres"),
            "postgres://postgres@127.0.0.1:5432/loadgen_1_cluster"
        );
        assert_eq!(
            u("postgres://u:p@db:5432/app?sslmode=disable"),
            "postgres://u:p@db:5432/loadgen_1_cluster?sslmode=disable"
        );
        assert_eq!(
            u("postgresql://127.0.0.1"),
            "postgresql://127.0.0.1/loadgen_1_cluster"
        );
    }

    #[test]
    fn database_url_rejects_a_url_without_a_scheme() {
        let e = database_url("127.0.0.1:5432/postgres", "x").unwrap_err();
        assert!(e.contains("not a postgres:// URL"), "{e}");
    }
}
