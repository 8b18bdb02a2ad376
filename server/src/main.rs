//! `stellar-insights-server`: placeholder entry point while the server is built (issue 2).
fn main() {
    let _ = stellar_insights_ws::protocol::PROTOCOL_VERSION;
}
