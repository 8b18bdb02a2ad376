//! REST calls the fault, non-reader and soak tests share.

use serde_json::{json, Value};

/// A Stellar account id (`G...`) made of one repeated key byte.
pub fn account(n: u8) -> String {
    format!("{}", stellar_strkey::ed25519::PublicKey([n; 32]))
}

/// Sends `request` and decodes the JSON answer, failing the test on any error.
pub async fn send_json<T: serde::de::DeserializeOwned>(request: reqwest::RequestBuilder) -> T {
    request.send().await.unwrap().json().await.unwrap()
}

/// Creates the USDC (account 1) to EURC (account 2) corridor and returns its id.
pub async fn create_corridor(http: &reqwest::Client, base: &str) -> String {
    let body = json!({"source_asset_code": "USDC", "source_asset_issuer": account(1),
                      "dest_asset_code": "EURC", "dest_asset_issuer": account(2)});
    let corridor: Value = send_json(http.post(format!("{base}/api/corridors")).json(&body)).await;
    corridor["id"].as_str().unwrap().to_owned()
}

/// Metric `name` from `/metrics`, summed over its label sets, truncated to an integer;
/// `None` when the server does not answer (it may be restarting) or lacks the metric.
pub async fn metric(http: &reqwest::Client, base: &str, name: &str) -> Option<u64> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let values: Vec<f64> = text
        .lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with([' ', '{']))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() as u64)
}
