//! `tmctl statements`: the SQL the store runs for a request, with its
//! parameters, read through the API's own parsers: first the signed-in
//! user's check every such request makes, then the request's own. The
//! benchmark explains and pgbenches these, so it never keeps a copy of the
//! store's SQL.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use tm_shared::http::cursor::{CursorKey, Scope};
use tm_shared::http::pagination::{Paging, RequestUrl};
use tm_shared::models::alert::AlertFilter;
use tm_shared::models::audit::Audit;
use tm_shared::models::event::{EventFilter, Incoming, Poster};
use tm_shared::models::fields::FieldErrors;
use tm_shared::models::query::QueryParams;
use tm_shared::models::stats::StatsWindow;
use tm_shared::store::alerts::AlertOrder;
use tm_shared::store::events::Prepared;
use tm_shared::store::{self, Statement, Window};

#[derive(Debug, Args)]
pub struct Statements {
    /// The id of the signed-in user the request is made as.
    #[arg(long, default_value_t = 1, global = true)]
    pub user: i64,
    /// The id of the sign-in session its access token names.
    #[arg(long, default_value_t = 1, global = true)]
    pub session: i64,
    #[command(subcommand)]
    pub request: Request,
}

#[derive(Debug, Subcommand)]
pub enum Request {
    /// `GET /api/alerts/?QUERY`: its count and its page (with `cursor=`,
    /// the page alone; a cursor is checked with JWT_SECRET's key).
    AlertsList { query: String },
    /// `GET /api/alerts/ID/`.
    AlertsGet { id: i64 },
    /// `GET /api/alerts/stats/?QUERY`.
    AlertsStats { query: String },
    /// `GET /api/events/?QUERY`: its count and its page.
    EventsList { query: String },
    /// `POST /api/events/` with this JSON body (as an admin; no silence acts).
    EventsCreate { body: String },
    /// `POST /api/events/batch/` with the JSON body (`{"events": [...]}`)
    /// in this file (a batch is too long for a command line).
    EventsBatch { file: std::path::PathBuf },
}

/// The statements a request runs, in order.
pub fn statements(asked: &Statements) -> anyhow::Result<Vec<Statement>> {
    let mut all = vec![store::sessions::active_role_statement(
        asked.user,
        asked.session,
    )];
    all.extend(request_statements(
        &asked.request,
        Poster::User(asked.user),
    )?);
    Ok(all)
}

fn request_statements(request: &Request, by: Poster) -> anyhow::Result<Vec<Statement>> {
    // A request through the API has its client's address, and its audit
    // row stores it.
    let audit = Audit::api(by, Some(std::net::Ipv4Addr::LOCALHOST.into()));
    Ok(match request {
        Request::AlertsList { query } => {
            let params = QueryParams::parse(Some(query)).map_err(invalid)?;
            let mut errors = FieldErrors::new();
            let order = AlertOrder::from_query(&params, &mut errors);
            errors.into_result().map_err(invalid)?;
            let (filter, window) =
                list_request("/api/alerts/", order.name(), query, AlertFilter::from_query)?;
            store::alerts::list_statements(&filter, order, window)
        }
        Request::AlertsStats { query } => {
            let params = QueryParams::parse(Some(query)).map_err(invalid)?;
            let mut errors = FieldErrors::new();
            let window = StatsWindow::from_query(&params, &mut errors);
            errors.into_result().map_err(invalid)?;
            store::stats::statements(&window)
        }
        Request::AlertsGet { id } => store::alerts::get_statements(*id),
        Request::EventsList { query } => {
            let (filter, window) =
                list_request("/api/events/", "-timestamp", query, EventFilter::from_query)?;
            store::events::list_statements(&filter, window)
        }
        Request::EventsCreate { body } => {
            let event = Incoming::parse(&object(body)?, None).map_err(invalid)?;
            store::events::create_statements(
                Prepared {
                    event,
                    silence: None,
                },
                &audit,
            )
        }
        Request::EventsBatch { file } => {
            let body = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            let events = events::parse_batch(&object(&body)?, None)
                .map_err(|e| anyhow::anyhow!("invalid request: {e}"))?;
            let items: Vec<Prepared> = events
                .into_iter()
                .map(|event| Prepared {
                    event,
                    silence: None,
                })
                .collect();
            store::events::batch_statements(&items, &audit)
        }
    })
}

/// A list's filter and window, as the handler reads them. A numbered page
/// is taken as asked: without the database there is no count to check it
/// against, so `page=last` cannot be placed. A cursor is read with the key
/// the server derives from JWT_SECRET.
fn list_request<F>(
    path: &str,
    ordering: &str,
    query: &str,
    read: impl FnOnce(&QueryParams, &mut FieldErrors) -> F,
) -> anyhow::Result<(F, Window)> {
    let params = QueryParams::parse(Some(query)).map_err(invalid)?;
    let url = RequestUrl::new("http://localhost", path, params.clone());
    let key = cursor_key()?;
    let mut errors = FieldErrors::new();
    let filter = read(&params, &mut errors);
    let paging = Paging::from_query(&url, &key, &Scope::new(path, ordering), &mut errors);
    errors.into_result().map_err(invalid)?;
    let window = match paging.map_err(|_| anyhow::anyhow!("invalid page"))? {
        Paging::Number(page) => {
            let (limit, offset) = page.window_as_asked().context(
                "give a page number whose offset fits in 64 bits (page=last needs the row count)",
            )?;
            Window::Page { limit, offset }
        }
        Paging::Cursor(request) => Window::Keyset(request.keyset()),
    };
    Ok((filter, window))
}

/// The server's cursor key, from JWT_SECRET as the server derives it; a
/// placeholder when it is not set (a cursor then reads as invalid).
pub fn cursor_key() -> anyhow::Result<CursorKey> {
    let secret = std::env::var("JWT_SECRET").unwrap_or_default();
    Ok(CursorKey::derive(secret.as_bytes()))
}

/// `tmctl cursor`: a token for the row at (`at`, `id`) of a list, as the
/// server would put in a `next` link (for the benchmark's deep pages).
pub fn mint_cursor(
    path: &str,
    ordering: &str,
    at: Option<&str>,
    id: i64,
) -> anyhow::Result<String> {
    let position = match at {
        None => tm_shared::http::cursor::Position::id(id),
        Some(at) => {
            let at =
                time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                    .context("--at is an RFC 3339 time")?;
            tm_shared::http::cursor::Position::at(at, id)
        }
    };
    Ok(tm_shared::http::cursor::encode(
        &cursor_key()?,
        &Scope::new(path, ordering),
        position,
        tm_shared::http::cursor::Direction::Forward,
    ))
}

fn object(body: &str) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let body: serde_json::Value = serde_json::from_str(body).context("the body")?;
    match body {
        serde_json::Value::Object(map) => Ok(map),
        _ => bail!("the body is not a JSON object"),
    }
}

fn invalid(errors: FieldErrors) -> anyhow::Error {
    anyhow::anyhow!("invalid request: {:?}", errors.as_map())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_triage_page_is_the_users_check_then_a_page_of_ids_counted_by_a_sum_of_counts() {
        let asked = Statements {
            user: 7,
            session: 12,
            request: Request::AlertsList {
                query: "severity=High&status=Open&page=3".into(),
            },
        };
        let shown = statements(&asked).unwrap();
        assert_eq!(shown[0].name, "auth");
        assert_eq!(shown[0].params, ["7", "12"]);
        assert_eq!(shown.len(), 2);
        assert_eq!(shown[1].name, "list");
        assert!(
            shown[1]
                .sql
                .starts_with("WITH total AS (SELECT COALESCE(sum(n), 0)::bigint FROM alert_counts")
        );
        assert_eq!(shown[1].params, ["Open", "High", "Open", "High"]);
        assert!(shown[1].sql.contains("LIMIT 20 OFFSET 40"));
    }

    #[test]
    fn a_bad_request_is_refused_as_the_api_would() {
        let bad = Request::AlertsList {
            query: "severity=Extreme".into(),
        };
        assert!(request_statements(&bad, Poster::User(1)).is_err());
        let last = Request::EventsList {
            query: "page=last".into(),
        };
        assert!(request_statements(&last, Poster::User(1)).is_err());
        let body = Request::EventsCreate {
            body: r#"{"source": "s"}"#.into(),
        };
        assert!(request_statements(&body, Poster::User(1)).is_err());
    }
}
