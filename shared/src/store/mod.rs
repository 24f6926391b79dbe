//! PostgreSQL access, one module per resource. Every query lives here.

pub mod alerts;
pub mod events;
pub mod throttle;
pub mod users;

use sqlx::{Postgres, QueryBuilder};

use crate::http::query::TimeRange;

/// Appends `AND column >= since AND column <= until` for the bounds given.
fn push_time_range(qb: &mut QueryBuilder<Postgres>, column: &str, range: &TimeRange) {
    if let Some(since) = range.since {
        qb.push(format_args!(" AND {column} >= ")).push_bind(since);
    }
    if let Some(until) = range.until {
        qb.push(format_args!(" AND {column} <= ")).push_bind(until);
    }
}

/// Appends the page's `ORDER BY`, `LIMIT` and `OFFSET`. The two numbers are
/// written into the statement, not bound: they are integers the server
/// computed, and a planner that knows them keeps a page an index scan even
/// when it settles on a generic plan (with `LIMIT $n` it guessed a tenth of
/// the table and chose a sequential scan). Each page is then its own
/// statement text; sqlx's per-connection cache (100 statements, least
/// recently used) keeps the busy ones. (`persistent(false)` would keep deep
/// pages out of it, but sqlx 0.9.0 then fails with "unnamed prepared
/// statement does not exist".)
fn push_page(qb: &mut QueryBuilder<Postgres>, order_by: &str, limit: i64, offset: i64) {
    qb.push(format_args!(
        " ORDER BY {order_by} LIMIT {limit} OFFSET {offset}"
    ));
}

/// `column = value` for one value, `column = ANY(values)` for several. The
/// planner reads a plain equality as a prefix of the (status, severity,
/// created_at, id) index, so a one-value filter's page comes in index order
/// with nothing to sort or filter; `= ANY` of one element it does not.
fn push_one_of<T>(qb: &mut QueryBuilder<Postgres>, column: &str, values: &[T])
where
    T: Copy + for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send + 'static,
    Vec<T>: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres>,
{
    match values {
        [one] => {
            qb.push(format!(" AND {column} = ")).push_bind(*one);
        }
        _ => {
            qb.push(format!(" AND {column} = ANY("))
                .push_bind(values.to_vec())
                .push(")");
        }
    }
}
