//! The per-connection read buffer is small (1 KiB, so 10 000 clients do not
//! pin 1.3 GB), yet client frames up to `WS_MAX_FRAME_BYTES` still arrive whole.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn websocket_frame_ten_times_the_read_buffer_is_still_read_whole() {
    let server = TestServer::start().await;
    let (mut ws, _) = server.connect_ready("").await;
    let big = json!({"type": "ping", "timestamp": 42, "pad": "x".repeat(40_000)}).to_string();
    send_text(&mut ws, &big).await;
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "pong", "timestamp": 42})
    );
    // The connection is still usable after the buffer grew for the big frame.
    send_text(&mut ws, r#"{"type":"ping","timestamp":43}"#).await;
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "pong", "timestamp": 43})
    );
}
