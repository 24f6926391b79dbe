//! `/api/audit/`: the audit log, read by admins. Nothing writes it through
//! this function: every write elsewhere appends its own row, in its own
//! transaction, and the application's database role may only append.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use tm_shared::auth::AdminUser;
use tm_shared::http::cursor::Position;
use tm_shared::http::pagination::{Lister, RequestUrl};
use tm_shared::models::audit::{AuditEntry, AuditFilter};
use tm_shared::{ApiError, AppState, FieldErrors, finish_router, store};

const LIST: &str = "/api/audit/";

tm_shared::api! {
    tag: "audit",
    schemas: [AuditEntry],
    LIST => {
        get list for Admin {
            summary: "Read the audit log, newest first",
            description: "Admins only. Every write through the API, `tmctl` or the admin function, and every sign-in (succeeded, failed, locked out), with who made it, from which address and through what. Filters combine with AND. A batch of events is one row (its `detail` holds the count, the ids and what became of them).",
            params: [AuditFilter::params(), page_params().into()].concat(),
            ok: (200, "A page of audit rows.", Some(page_of::<AuditEntry>())),
            errors: &[400, 404],
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
    let filter = AuditFilter::from_query(url.params(), &mut errors);
    let paging = lister.paging(&AuditFilter::names(), &mut errors);
    errors.into_result()?;
    let db = &state.db;
    lister
        .respond(
            paging?,
            store::audit::count(db, &filter),
            |window| store::audit::list(db, &filter, window),
            |e: &AuditEntry| Position::id(e.id),
        )
        .await
}
