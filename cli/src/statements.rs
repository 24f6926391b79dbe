//! `tmctl statements`: the SQL the store runs for a request, with its
//! parameters, read through the API's own parsers: first the signed-in
//! user's check every such request makes, then the request's own. The
//! benchmark explains and pgbenches these, so it never keeps a copy of the
//! store's SQL.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use tm_shared::http::pagination::PageRequest;
use tm_shared::models::alert::AlertFilter;
use tm_shared::models::event::{EventFilter, Incoming, Poster};
use tm_shared::models::fields::FieldErrors;
use tm_shared::models::query::QueryParams;
use tm_shared::store::events::Prepared;
use tm_shared::store::{self, Statement, Window};

#[derive(Debug, Args)]
pub struct Statements {
    /// The id of the signed-in user the request is made as.
    #[arg(long, default_value_t = 1, global = true)]
    pub user: i64,
    #[command(subcommand)]
    pub request: Request,
}

#[derive(Debug, Subcommand)]
pub enum Request {
    /// `GET /api/alerts/?QUERY`: its count and its page.
    AlertsList { query: String },
    /// `GET /api/alerts/ID/`.
    AlertsGet { id: i64 },
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
    let mut all = vec![store::users::active_role_statement(asked.user)];
    all.extend(request_statements(
        &asked.request,
        Poster::User(asked.user),
    )?);
    Ok(all)
}

fn request_statements(request: &Request, by: Poster) -> anyhow::Result<Vec<Statement>> {
    Ok(match request {
        Request::AlertsList { query } => {
            let (filter, (limit, offset)) = list_request(query, AlertFilter::from_query)?;
            let window = Window::Page { limit, offset };
            store::alerts::list_statements(&filter, store::alerts::AlertOrder::NewestFirst, window)
        }
        Request::AlertsGet { id } => store::alerts::get_statements(*id),
        Request::EventsList { query } => {
            let (filter, (limit, offset)) = list_request(query, EventFilter::from_query)?;
            store::events::list_statements(&filter, Window::Page { limit, offset })
        }
        Request::EventsCreate { body } => {
            let event = Incoming::parse(&object(body)?, None).map_err(invalid)?;
            store::events::create_statements(
                Prepared {
                    event,
                    silence: None,
                },
                by,
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
            store::events::batch_statements(&items, by)
        }
    })
}

/// A list's filter and page, as the handler reads them. The page is taken
/// as asked: without the database there is no count to check it against,
/// so `page=last` cannot be placed.
fn list_request<F>(
    query: &str,
    read: impl FnOnce(&QueryParams, &mut FieldErrors) -> F,
) -> anyhow::Result<(F, (i64, i64))> {
    let params = QueryParams::parse(Some(query)).map_err(invalid)?;
    let mut errors = FieldErrors::new();
    let filter = read(&params, &mut errors);
    let page = PageRequest::from_query(&params, &mut errors);
    errors.into_result().map_err(invalid)?;
    let page = page.map_err(|_| anyhow::anyhow!("invalid page"))?;
    let window = page.window_as_asked().context(
        "give a page number whose offset fits in 64 bits (page=last needs the row count)",
    )?;
    Ok((filter, window))
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
    fn a_triage_page_is_the_users_check_a_sum_of_counts_and_a_page_of_ids() {
        let asked = Statements {
            user: 7,
            request: Request::AlertsList {
                query: "severity=High&status=Open&page=3".into(),
            },
        };
        let shown = statements(&asked).unwrap();
        assert_eq!(shown[0].name, "auth");
        assert_eq!(shown[0].params, ["7"]);
        assert_eq!(shown[1].name, "count");
        assert!(shown[1].sql.contains("FROM alert_counts"));
        assert_eq!(shown[1].params, ["Open", "High"]);
        assert_eq!(shown[2].name, "list");
        assert!(shown[2].sql.contains("LIMIT 20 OFFSET 40"));
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
