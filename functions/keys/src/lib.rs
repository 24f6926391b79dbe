//! `/api/keys/`: ingest keys, what sensors send instead of a user's
//! password. Admins mint, list and revoke them; a key may only record events
//! for the source it is bound to (see the events function).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Json, Router};
use tm_shared::auth::AdminUser;
use tm_shared::http::body::JsonObject;
use tm_shared::http::cursor::Position;
use tm_shared::http::pagination::{Lister, RequestUrl};
use tm_shared::http::path::ResourceId;
use tm_shared::models::key::{IngestKey, KeySecret, KeySecretShown, MintedKey, NewKey};
use tm_shared::{ApiError, AppState, FieldErrors, finish_router, store};

const LIST: &str = "/api/keys/";
const DETAIL: &str = "/api/keys/{id}/";

tm_shared::api! {
    tag: "keys",
    schemas: [IngestKey, MintedKey],
    LIST => {
        get list for Admin {
            summary: "List ingest keys, newest first",
            description: "Admins only. Revoked keys stay listed, with `revoked_at`. Secrets are never shown.",
            params: page_params().into(),
            ok: (200, "A page of keys.", Some(page_of::<IngestKey>())),
            errors: &[400, 404],
        },
        post create for Admin {
            summary: "Mint an ingest key",
            description: "Admins only. The answer carries the secret (`key`) this once; only its hash is stored. The key may record events (`POST /api/events/`, `POST /api/events/batch/`) for its `source` only, and nothing else.",
            body: Some(NewKey::schema()),
            ok: (201, "The key, with its secret shown once.", Some(schema_ref::<MintedKey>())),
        },
    },
    DETAIL => {
        get read for Admin {
            summary: "Read an ingest key",
            description: "Admins only. Never the secret.",
            params: vec![id_param("key")],
            ok: (200, "The key.", Some(schema_ref::<IngestKey>())),
            errors: &[404],
        },
        delete revoke for Admin {
            summary: "Revoke an ingest key",
            description: "Admins only. The key is refused (401) from the next request on; its record stays, with `revoked_at`. Revoking a revoked key changes nothing.",
            params: vec![id_param("key")],
            ok: (204, "Revoked.", None),
            errors: &[404],
        },
    },
}

/// The routes as the function serves them, with the shared fallback and log.
pub fn router(state: AppState) -> Router {
    finish_router(routes(), state)
}

async fn list(
    State(state): State<AppState>,
    _: AdminUser,
    url: RequestUrl,
) -> Result<Response, ApiError> {
    let lister = Lister::new(&url, &state.cursor, "-id");
    let mut errors = FieldErrors::new();
    let paging = lister.paging(&[], &mut errors);
    errors.into_result()?;
    let db = &state.db;
    lister
        .respond(
            paging?,
            store::keys::count(db),
            |window| store::keys::list(db, window),
            |k: &IngestKey| Position::id(k.id),
        )
        .await
}

async fn create(
    State(state): State<AppState>,
    admin: AdminUser,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<MintedKey>), ApiError> {
    let key = NewKey::parse(&body)?;
    let secret = KeySecret::generate();
    let stored = store::keys::create(&state.db, &key, &secret, &admin.0.audit()).await?;
    let minted = MintedKey {
        key: stored,
        secret: KeySecretShown(secret.expose()),
    };
    Ok((StatusCode::CREATED, Json(minted)))
}

async fn read(
    State(state): State<AppState>,
    _: AdminUser,
    ResourceId(id): ResourceId,
) -> Result<Json<IngestKey>, ApiError> {
    let key = store::keys::get(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(key))
}

async fn revoke(
    State(state): State<AppState>,
    admin: AdminUser,
    ResourceId(id): ResourceId,
) -> Result<StatusCode, ApiError> {
    store::keys::revoke(&state.db, id, &admin.0.audit())
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(StatusCode::NO_CONTENT)
}
