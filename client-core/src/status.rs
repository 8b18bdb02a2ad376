//! What the client reports to JS: connection status, errors, resync events.
//! Plain serde types; under wasm32 they also emit their TypeScript declarations.

use crate::protocol::ResyncReason;
use serde::Serialize;
use std::fmt;

/// Connection state as JS sees it (`ConnectionState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// No socket and none wanted (start, or every consumer released).
    Idle,
    /// A socket is being opened.
    Connecting,
    /// The socket is open.
    Open,
    /// Waiting for the next attempt (timer, or the browser to come online).
    Reconnecting,
    /// `maxReconnectAttempts` used up; only `connect()` starts again.
    GaveUp,
    /// Closed by `disconnect()`, or lost with `autoReconnect` off.
    Closed,
}

impl ConnectionState {
    /// The JS spelling (`"gave_up"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Idle => "idle",
            ConnectionState::Connecting => "connecting",
            ConnectionState::Open => "open",
            ConnectionState::Reconnecting => "reconnecting",
            ConnectionState::GaveUp => "gave_up",
            ConnectionState::Closed => "closed",
        }
    }
}

/// Snapshot of the connection, emitted to `onStatus` on every state change.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct ConnectionStatus {
    /// Current state.
    pub state: ConnectionState,
    /// Reconnect attempt number, 1-based; 0 when open or idle.
    pub attempt: u32,
    /// While reconnecting on a timer: the delay before the next attempt, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub delay_ms: Option<u64>,
    /// While reconnecting on a timer: when the next attempt starts, ms since the Unix epoch (`Date.now()` clock).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub next_attempt_at: Option<u64>,
    /// Server-assigned id from `connected`, while open.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub connection_id: Option<String>,
    /// `seq` of the last update delivered (unit-less, deployment-wide counter).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub last_seq: Option<u64>,
    /// Sharing one socket across tabs (`shareAcrossTabs`): `true` in the tab
    /// that owns the socket, `false` in a tab receiving through it ("live via
    /// another tab"); absent when not sharing.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub leader: Option<bool>,
}

/// Stable code of a [`WsError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A frame that is not valid JSON or lacks required fields.
    MalformedFrame,
    /// A frame whose `type` this client does not know.
    UnknownType,
    /// A frame of a known type with fields missing, of the wrong shape or not
    /// in the protocol; it was delivered as it came. Reported once per type
    /// and field.
    SchemaMismatch,
    /// A JS callback threw.
    CallbackError,
    /// `send` while disconnected with the queue full; the message was dropped.
    QueueOverflow,
    /// The server sent an `error` frame; the message is the frame's own `message`.
    ServerError,
    /// The socket failed to open or was closed by the peer or the network.
    SocketError,
    /// The socket did not open within `connectTimeout`.
    ConnectTimeout,
    /// No frame for `heartbeatTimeoutFactor` × `heartbeat_ms`.
    HeartbeatTimeout,
    /// `maxReconnectAttempts` reached; no more attempts until `connect()`.
    GaveUp,
    /// Options or a filter were rejected.
    InvalidOptions,
    /// A `state` chunk, record or field delta the client could not apply (an
    /// unknown `ref`, a record without its key); nothing it held was changed,
    /// and for an unknown `ref` it asked the server for the state again.
    StateMismatch,
}

impl ErrorCode {
    /// The JS spelling (`"malformed_frame"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedFrame => "malformed_frame",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::SchemaMismatch => "schema_mismatch",
            ErrorCode::CallbackError => "callback_error",
            ErrorCode::QueueOverflow => "queue_overflow",
            ErrorCode::ServerError => "server_error",
            ErrorCode::SocketError => "socket_error",
            ErrorCode::ConnectTimeout => "connect_timeout",
            ErrorCode::HeartbeatTimeout => "heartbeat_timeout",
            ErrorCode::GaveUp => "gave_up",
            ErrorCode::InvalidOptions => "invalid_options",
            ErrorCode::StateMismatch => "state_mismatch",
        }
    }
}

/// An error reported to `onError` callbacks. Never contains the token.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct WsError {
    /// What kind of error.
    pub code: ErrorCode,
    /// Human-readable description.
    pub message: String,
}

/// The machine's name for [`ConnectionStatus`].
pub type Status = ConnectionStatus;

/// The machine's name for [`WsError`].
pub type ClientError = WsError;

impl WsError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        WsError {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Payload of `onResync` callbacks (`ResyncEvent`): reload state through REST.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct ResyncEvent {
    /// The server's reason (`pruned`, `future_seq`, `slow_consumer`, `gap`, or
    /// a newer one), if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(optional, type = "ResyncReason"))]
    pub reason: Option<ResyncReason>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConnectionState::{Closed, Connecting, Idle, Open, Reconnecting};
    use ErrorCode::*;

    #[test]
    fn js_spellings_match_the_declared_types() {
        for state in [
            Idle,
            Connecting,
            Open,
            Reconnecting,
            ConnectionState::GaveUp,
            Closed,
        ] {
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.as_str()));
        }
        for code in [
            MalformedFrame,
            UnknownType,
            SchemaMismatch,
            CallbackError,
            QueueOverflow,
            ServerError,
            SocketError,
            ConnectTimeout,
            HeartbeatTimeout,
            ErrorCode::GaveUp,
            InvalidOptions,
            StateMismatch,
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }
}
