//! The whole API's OpenAPI document, merged from each function's part, and
//! the routes that serve it with Swagger UI on the local server.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tm_shared::openapi::{BEARER, INGEST_KEY};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{InfoBuilder, OpenApi};
use utoipa_swagger_ui::{Config, SwaggerUi};

pub const SCHEMA_PATH: &str = "/api/schema/";
pub const DOCS_PATH: &str = "/api/docs/";

const DESCRIPTION: &str = "Security events in, alerts out. Sensors and scripts record events; \
every High or Critical event raises an alert, which analysts and admins triage \
(Open → Acknowledged → Resolved). Admins manage events and alerts; analysts read alerts.\n\n\
Sign in at `/api/token/`, then send `Authorization: Bearer <access>`. Sensors send an \
ingest key instead (`X-API-Key: tmk_...`), which may only record events. Every path also \
answers without its trailing slash. Errors are `{\"detail\": \"...\"}`, or \
`{\"field\": [\"message\"]}` for invalid input.";

/// The document, as `openapi.json` holds it.
pub fn document() -> OpenApi {
    let mut doc = token::document();
    doc.merge(events::document());
    doc.merge(alerts::document());
    doc.merge(keys::document());
    doc.merge(silences::document());
    doc.merge(::users::document());
    doc.merge(::audit::document());
    doc.info = InfoBuilder::new()
        .title("Threat monitoring API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(DESCRIPTION))
        .build();
    doc.tags = Some(vec![
        tag("token", "Sign in and refresh access tokens."),
        tag(
            "events",
            "Security events: admins manage them, ingest keys record them.",
        ),
        tag("alerts", "Alerts raised by High and Critical events."),
        tag(
            "keys",
            "Ingest keys: what sensors send instead of a password (admins).",
        ),
        tag(
            "silences",
            "Windows in which matching events raise no alert.",
        ),
        tag("users", "Who may be assigned alerts, and who is signed in."),
        tag(
            "audit",
            "Who changed what, from where: every write and sign-in (admins).",
        ),
    ]);
    if let Some(components) = doc.components.as_mut() {
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("The `access` token from `/api/token/`."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            INGEST_KEY,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "An ingest key (`tmk_...`) from `POST /api/keys/`; `Authorization: Bearer tmk_...` works too. It may only record events.",
            ))),
        );
    }
    doc
}

fn tag(name: &str, description: &str) -> utoipa::openapi::tag::Tag {
    TagBuilder::new()
        .name(name)
        .description(Some(description))
        .build()
}

/// The document as committed: pretty JSON with a final newline.
pub fn document_json() -> String {
    let mut json = document()
        .to_pretty_json()
        .expect("the document serialises");
    json.push('\n');
    json
}

/// `/api/schema/` and the Swagger UI at `/api/docs/`. The UI's assets are
/// compiled in from the `utoipa-swagger-ui` crate; nothing is fetched from
/// the internet, and the online validator badge is off.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let schema = document_json();
    let ui = SwaggerUi::new(DOCS_PATH).config(
        Config::new([SCHEMA_PATH])
            .validator_url("none")
            .persist_authorization(false),
    );
    Router::new()
        .route(
            SCHEMA_PATH,
            get(move || {
                let schema = schema.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], schema).into_response() }
            }),
        )
        .merge(Router::from(ui))
        .layer(axum::middleware::map_response(docs_csp))
}

/// The Swagger UI runs its own scripts and styles, and calls this API; it
/// may load nothing from elsewhere. (Its bundle sets styles inline and
/// draws icons from `data:` URLs.)
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
    frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

async fn docs_csp(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(DOCS_CSP),
    );
    response
}
