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
