//! Demo mode: seeds a realistic set of anchors and corridors on an empty database,
//! then changes their metrics every `DEMO_TICK_MS` and takes a snapshot every
//! `DEMO_SNAPSHOT_SECS`, through the same service functions as the REST writes.

use std::time::Duration;

use crate::error::ApiError;
use crate::model::{Anchor, AnchorMetrics, Corridor, CorridorMetrics, NewAnchor, NewCorridor};
use crate::{service, store, AppState};

const CIRCLE_USDC: &str = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN";
const CIRCLE_EURC: &str = "GDHU6WRG4IEQXM5NZ4BMPKOXHW76MZM4Y2IEMFDVXBSDP6SJY4ITNPP2";
const ULTRA_CAPITAL: &str = "GARDNV3Q7YGT4AKSDF25LT32YSCCW4EV22Y2TV3I2PU2MMXJTEDL5T55";
const ULTRA_YUSDC: &str = "GDGTVWSM4MGS4T7Z6W4RPWOCHE2I6RDFCIFZGS3DOA63LWQTRNZNTTFF";
const STRONGHOLD: &str = "GDSTRSHXHGJ7ZIVRBXEYE5Q74XUVCUSEKEBR7UCHEUUEK72N7I7KJ6JH";
const ANCLAP: &str = "GCYE7C77EB5AWAA25R5XMWNI2EDOKTTFTTPZKM2SR5DI4B4WFD52DARS";
const COWRIE: &str = "GAWODAROMJ33V5YDFY3NPYTHVYQG7MJXVJ2ND3AOGIHYRWINES6ACCPD";
const TEMPO: &str = "GAP5LETOV6YIE62YAM56STDANPRDO7ZFDBGSNHJQIYGGKSMOZAHOOS2S";
const ANCHOR_USD: &str = "GDUKMGUGDZQK6YHYA5Z6AY2G4XDSZPSZ3SW5UN3ARVMO6QSRDWP5YLEX";
const AQUARIUS: &str = "GBNZILSTVQZ4R7IKQDGHYGY2QXL5QOFJYQMXPKWRRM5PAV7Y4M67AQUA";
const MOBIUS: &str = "GA6HCMBLTZS5VYYBCATRBRZ3BZJMAFUDKYYF6AH6MVCMGWMRDNSWJPIH";

/// Demo anchors: name, issuing account (public mainnet issuers), home domain,
/// and the success probability their simulated traffic has.
pub const ANCHORS: [(&str, &str, &str, f64); 8] = [
    ("Circle (USDC)", CIRCLE_USDC, "centre.io", 0.995),
    ("Circle (EURC)", CIRCLE_EURC, "circle.com", 0.99),
    ("Ultra Capital", ULTRA_CAPITAL, "ultracapital.xyz", 0.97),
    ("Stronghold", STRONGHOLD, "stronghold.co", 0.93),
    ("Anclap", ANCLAP, "anclap.com", 0.96),
    ("Cowrie Exchange", COWRIE, "cowrie.exchange", 0.88),
    ("Tempo", TEMPO, "tempo.eu.com", 0.975),
    ("AnchorUSD", ANCHOR_USD, "anchorusd.com", 0.78),
];

/// Demo corridors: source code, issuer, destination code, issuer.
pub const CORRIDORS: [(&str, &str, &str, &str); 12] = [
    ("USDC", CIRCLE_USDC, "EURC", CIRCLE_EURC),
    ("EURC", CIRCLE_EURC, "USDC", CIRCLE_USDC),
    ("USDC", CIRCLE_USDC, "ARST", ANCLAP),
    ("ARST", ANCLAP, "USDC", CIRCLE_USDC),
    ("USDC", CIRCLE_USDC, "NGNT", COWRIE),
    ("USDC", CIRCLE_USDC, "EURT", TEMPO),
    ("EURT", TEMPO, "EURC", CIRCLE_EURC),
    ("USDC", CIRCLE_USDC, "yUSDC", ULTRA_YUSDC),
    ("yXLM", ULTRA_CAPITAL, "USDC", CIRCLE_USDC),
    ("SHX", STRONGHOLD, "USDC", CIRCLE_USDC),
    ("AQUA", AQUARIUS, "USDC", CIRCLE_USDC),
    ("MOBI", MOBIUS, "EURC", CIRCLE_EURC),
];

/// Small deterministic generator (xorshift64*): demo data needs variety, not cryptographic randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// Success probability of an anchor by account, for the simulation.
fn quality(account: &str) -> f64 {
    ANCHORS
        .iter()
        .find(|a| a.1 == account)
        .map_or(0.95, |a| a.3)
}

/// Simulated traffic for one tick: new transactions and how many succeeded.
fn traffic(rng: &mut Rng, p_success: f64) -> (i64, i64) {
    let n = rng.range(5, 120) as i64;
    // Jitter the rate so statuses move between colours now and then.
    let p = (p_success + (rng.unit() - 0.5) * 0.1).clamp(0.0, 1.0);
    let ok = (n as f64 * p).round() as i64;
    (n, ok.min(n))
}

async fn tick_anchor(state: &AppState, rng: &mut Rng, a: &Anchor) -> Result<(), ApiError> {
    let (n, ok) = traffic(rng, quality(&a.stellar_account));
    let m = AnchorMetrics {
        total_transactions: a.total_transactions + n,
        successful_transactions: a.successful_transactions + ok,
        failed_transactions: a.failed_transactions + (n - ok),
        avg_settlement_time_ms: Some((800 + rng.range(0, 4200)) as f64),
        volume_usd: Some(
            ((a.total_volume_usd + n as f64 * rng.range(50, 5000) as f64) * 100.0).round() / 100.0,
        ),
    };
    service::update_anchor_metrics(state, &a.id, m)
        .await
        .map(drop)
}

async fn tick_corridor(state: &AppState, rng: &mut Rng, c: &Corridor) -> Result<(), ApiError> {
    let p_success = 0.9 + rng.unit() * 0.09;
    let (n, ok) = traffic(rng, p_success);
    let m = CorridorMetrics {
        total_transactions: c.total_transactions + n,
        successful_transactions: c.successful_transactions + ok,
        volume_usd: ((c.volume_usd + n as f64 * rng.range(20, 3000) as f64) * 100.0).round()
            / 100.0,
    };
    service::update_corridor_metrics(state, &c.id, m)
        .await
        .map(drop)
}

/// Creates the demo anchors and corridors with some initial traffic, when the
/// database has neither. Returns whether it seeded.
pub async fn seed_if_empty(state: &AppState, rng_seed: u64) -> Result<bool, ApiError> {
    if !store::list_anchors(&state.db).await?.is_empty()
        || !store::list_corridors(&state.db).await?.is_empty()
    {
        return Ok(false);
    }
    let mut rng = Rng(rng_seed | 1);
    for (name, account, domain, _) in ANCHORS {
        let new = NewAnchor {
            name: name.into(),
            stellar_account: account.into(),
            home_domain: Some(domain.into()),
        };
        let a = service::create_anchor(state, new).await?;
        for _ in 0..20 {
            let a = store::find_anchor(&state.db, &a.id)
                .await?
                .ok_or(ApiError::NotFound("anchor"))?;
            tick_anchor(state, &mut rng, &a).await?;
        }
    }
    for (sc, si, dc, di) in CORRIDORS {
        let new = NewCorridor {
            source_asset_code: sc.into(),
            source_asset_issuer: si.into(),
            dest_asset_code: dc.into(),
            dest_asset_issuer: di.into(),
        };
        let c = service::create_corridor(state, new).await?;
        tick_corridor(state, &mut rng, &c).await?;
    }
    service::create_snapshot(state).await?;
    Ok(true)
}

/// Seeds (if empty) and then changes one anchor and one corridor per tick, with a
/// snapshot every `demo_snapshot_interval`, until shutdown.
pub async fn run(state: AppState) {
    let seed = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as u64;
    match seed_if_empty(&state, seed).await {
        Ok(true) => tracing::info!(
            "demo mode: seeded {} anchors and {} corridors",
            ANCHORS.len(),
            CORRIDORS.len()
        ),
        Ok(false) => tracing::info!("demo mode: database not empty, using existing records"),
        Err(e) => tracing::error!(error = %e, "demo mode: seeding failed"),
    }
    let mut rng = Rng(seed.rotate_left(17) | 1);
    let mut shutdown = state.shutdown_signal();
    let mut tick = tokio::time::interval(state.config.demo_tick);
    let mut snap = tokio::time::interval_at(
        tokio::time::Instant::now() + state.config.demo_snapshot_interval,
        state
            .config
            .demo_snapshot_interval
            .max(Duration::from_millis(1)),
    );
    loop {
        let result = tokio::select! {
            _ = crate::until_shutdown(&mut shutdown) => return,
            _ = tick.tick() => step(&state, &mut rng).await,
            _ = snap.tick() => service::create_snapshot(&state).await.map(drop),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "demo mode: update failed");
        }
    }
}

async fn step(state: &AppState, rng: &mut Rng) -> Result<(), ApiError> {
    let anchors = store::list_anchors(&state.db).await?;
    if !anchors.is_empty() {
        let a = &anchors[rng.range(0, anchors.len() as u64 - 1) as usize];
        tick_anchor(state, rng, a).await?;
    }
    let corridors = store::list_corridors(&state.db).await?;
    if !corridors.is_empty() {
        let c = &corridors[rng.range(0, corridors.len() as u64 - 1) as usize];
        tick_corridor(state, rng, c).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_accounts_are_valid_strkeys_and_codes_are_valid() {
        for (_, account, _, p) in ANCHORS {
            assert!(
                stellar_strkey::ed25519::PublicKey::from_string(account).is_ok(),
                "{account}"
            );
            assert!((0.0..=1.0).contains(&p));
        }
        for (sc, si, dc, di) in CORRIDORS {
            for key in [si, di] {
                assert!(
                    stellar_strkey::ed25519::PublicKey::from_string(key).is_ok(),
                    "{key}"
                );
            }
            for code in [sc, dc] {
                assert!(
                    (1..=12).contains(&code.len())
                        && code.bytes().all(|b| b.is_ascii_alphanumeric())
                );
            }
        }
    }

    #[test]
    fn simulated_traffic_never_has_more_successes_than_transactions() {
        let mut rng = Rng(42);
        for p in [0.0, 0.5, 0.78, 1.0] {
            for _ in 0..1000 {
                let (n, ok) = traffic(&mut rng, p);
                assert!((5..=120).contains(&n) && (0..=n).contains(&ok));
            }
        }
    }
}
