//! REST request bodies (any bytes) through the same parse and validation the
//! handlers use. Must never panic; whatever validation accepts satisfies the
//! documented rules (names 1-200 chars, counts consistent).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use stellar_insights_server::validate;

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(data) else {
        return; // answered 400 by `JsonObject` before validation
    };
    if let Ok(a) = validate::new_anchor(&body) {
        let n = a.name.chars().count();
        assert!(
            (1..=validate::MAX_NAME_CHARS).contains(&n),
            "name of {n} chars accepted"
        );
        assert_eq!(a.stellar_account.len(), 56);
    }
    if let Ok(m) = validate::anchor_metrics(&body) {
        let (t, s, f) = (
            m.total_transactions,
            m.successful_transactions,
            m.failed_transactions,
        );
        assert!(s >= 0 && f >= 0 && s as i128 + f as i128 <= t as i128);
        assert!(m.volume_usd.is_none_or(|v| v.is_finite() && v >= 0.0));
    }
    let _ = validate::new_corridor(&body);
    if let Ok(m) = validate::corridor_metrics(&body) {
        assert!((0..=m.total_transactions).contains(&m.successful_transactions));
        assert!(m.volume_usd.is_finite() && m.volume_usd >= 0.0);
    }
});
