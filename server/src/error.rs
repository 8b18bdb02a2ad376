//! REST errors: one enum, one `IntoResponse`, body `{"error": "...", "field"?: "..."}`.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// JSON body of every REST error response.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// Human-readable description.
    pub error: String,
    /// The request field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Everything a REST handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not a JSON object (HTTP 400).
    #[error("{0}")]
    Malformed(String),
    /// A query parameter has an invalid value (HTTP 400).
    #[error("{message}")]
    BadQuery {
        /// What is wrong.
        message: String,
        /// Which parameter.
        field: &'static str,
    },
    /// A field is missing, has the wrong type or an invalid value (HTTP 422).
    #[error("{message}")]
    Invalid {
        /// What is wrong.
        message: String,
        /// Which field.
        field: String,
    },
    /// The id names no record (HTTP 404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique value is already taken (HTTP 409).
    #[error("{message}")]
    Conflict {
        /// What is taken.
        message: String,
        /// Which field.
        field: &'static str,
    },
    /// `API_AUTH_TOKEN` is set and the request lacks the right bearer token (HTTP 401).
    #[error("missing or wrong bearer token")]
    Unauthorized,
    /// The body is larger than `HTTP_BODY_LIMIT_BYTES` (HTTP 413).
    #[error("request body larger than the limit (HTTP_BODY_LIMIT_BYTES)")]
    TooLarge,
    /// The body is not declared as `application/json` (HTTP 415).
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// Storage failed (HTTP 500; details go to the log only).
    #[error("internal error")]
    Database(#[from] sqlx::Error),
}

impl ApiError {
    /// An [`ApiError::Invalid`] for `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::Invalid {
            message: message.into(),
            field: field.to_owned(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::Malformed(_) | ApiError::BadQuery { .. } => StatusCode::BAD_REQUEST,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Database(e) = &self {
            tracing::error!(error = %e, "database error");
        }
        let field = match &self {
            ApiError::Invalid { field, .. } => Some(field.clone()),
            ApiError::Conflict { field, .. } | ApiError::BadQuery { field, .. } => {
                Some((*field).to_owned())
            }
            _ => None,
        };
        let status = self.status();
        let body = Json(ErrorBody {
            error: self.to_string(),
            field,
        });
        if status == StatusCode::UNAUTHORIZED {
            (status, [(header::WWW_AUTHENTICATE, "Bearer")], body).into_response()
        } else {
            (status, body).into_response()
        }
    }
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Opening or migrating the database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// `REDIS_URL` is not a valid Redis URL.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Reading the update log failed.
    #[error("update log: {0}")]
    Log(#[from] crate::cluster::LogError),
    /// The listener failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}
