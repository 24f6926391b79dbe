//! PostgreSQL access, one module per resource. Every query lives here, and
//! each list query is built by a function that [`Statement`] can also show
//! (`tmctl statements`), so the benchmark runs the very SQL the API runs.

pub mod alerts;
pub mod audit;
pub mod bulk;
pub mod events;
pub mod idempotency;
pub mod keys;
pub mod sessions;
pub mod silences;
pub mod stats;
pub mod throttle;
pub mod timeline;
pub mod triage;
pub mod users;

use sqlx::{Postgres, QueryBuilder};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::models::domain::Choice;
use crate::models::query::{Keyset, TimeRange};

/// A statement as the store runs it, written out: its text and its
/// parameters in the text form PostgreSQL reads them in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Statement {
    pub name: &'static str,
    pub sql: String,
    pub params: Vec<String>,
}

/// A value bound to a statement, with its text form for [`Statement`].
/// Owned (`'static`): sqlx 0.9's `QueryBuilder` keeps its arguments, so a
/// borrowed text is copied in; a description is at most 40 KB, once.
pub trait Param:
    for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send + 'static
{
    fn text(&self) -> String;
}

impl Param for String {
    fn text(&self) -> String {
        self.clone()
    }
}

impl Param for i64 {
    fn text(&self) -> String {
        self.to_string()
    }
}

/// To the microsecond, as sqlx sends it (PostgreSQL would round the rest).
impl Param for OffsetDateTime {
    fn text(&self) -> String {
        let micros = self.nanosecond() / 1_000 * 1_000;
        self.replace_nanosecond(micros)
            .unwrap_or(*self)
            .format(&Rfc3339)
            .unwrap_or_default()
    }
}

/// An enum's wire spelling, which is also its PostgreSQL label.
impl<T> Param for T
where
    T: Choice + for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send + 'static,
{
    fn text(&self) -> String {
        self.to_string()
    }
}

impl<T: Choice + Send + 'static> Param for Vec<T>
where
    Vec<T>: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres>,
{
    /// An array literal; every wire spelling is a plain word, so no quoting.
    fn text(&self) -> String {
        let items: Vec<String> = self.iter().map(ToString::to_string).collect();
        format!("{{{}}}", items.join(","))
    }
}

/// PostgreSQL's array literal: each element quoted (`"` and `\` escaped),
/// `NULL` for a missing one.
fn array_literal<'a>(items: impl Iterator<Item = Option<&'a str>>) -> String {
    let items: Vec<String> = items
        .map(|item| match item {
            None => "NULL".to_owned(),
            Some(text) => format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\"")),
        })
        .collect();
    format!("{{{}}}", items.join(","))
}

impl Param for Vec<String> {
    fn text(&self) -> String {
        array_literal(self.iter().map(|s| Some(s.as_str())))
    }
}

impl Param for Vec<Option<String>> {
    fn text(&self) -> String {
        array_literal(self.iter().map(Option::as_deref))
    }
}

impl Param for Vec<i64> {
    fn text(&self) -> String {
        let items: Vec<String> = self.iter().map(i64::to_string).collect();
        format!("{{{}}}", items.join(","))
    }
}

impl Param for Vec<OffsetDateTime> {
    fn text(&self) -> String {
        let items: Vec<String> = self.iter().map(Param::text).collect();
        array_literal(items.iter().map(|t| Some(t.as_str())))
    }
}

impl Param for Vec<Option<i64>> {
    fn text(&self) -> String {
        let items: Vec<String> = self
            .iter()
            .map(|n| n.map_or_else(|| "NULL".to_owned(), |n| n.to_string()))
            .collect();
        format!("{{{}}}", items.join(","))
    }
}

/// A statement being built: sqlx's builder, and the parameters' text when
/// the statement is to be shown rather than run (not kept otherwise, so a
/// request pays nothing for it).
pub struct Sql {
    qb: QueryBuilder<Postgres>,
    shown: Option<Vec<String>>,
}

impl Sql {
    fn new(init: &str, show: bool) -> Self {
        Self {
            qb: QueryBuilder::new(init),
            shown: show.then(Vec::new),
        }
    }

    fn push(&mut self, sql: impl std::fmt::Display) -> &mut Self {
        self.qb.push(sql);
        self
    }

    fn bind<T: Param>(&mut self, value: T) -> &mut Self {
        if let Some(shown) = &mut self.shown {
            shown.push(value.text());
        }
        self.qb.push_bind(value);
        self
    }

    fn statement(self, name: &'static str) -> Statement {
        Statement {
            name,
            sql: self.qb.sql().as_str().to_owned(),
            params: self.shown.unwrap_or_default(),
        }
    }
}

/// Whether PostgreSQL aborted the statement to break a deadlock (or a
/// serialization conflict): nothing was written, and running it again is safe.
pub fn is_deadlock(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40P01" | "40001")))
}

/// One round trip to the database, for a health check.
pub async fn ping(db: &sqlx::PgPool) -> sqlx::Result<()> {
    sqlx::query("SELECT 1").execute(db).await.map(|_| ())
}

/// Appends `AND column >= since AND column <= until` for the bounds given.
fn push_time_range(sql: &mut Sql, column: &str, range: &TimeRange) {
    if let Some(since) = range.since {
        sql.push(format_args!(" AND {column} >= ")).bind(since);
    }
    if let Some(until) = range.until {
        sql.push(format_args!(" AND {column} <= ")).bind(until);
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
fn push_page(sql: &mut Sql, order_by: &str, limit: i64, offset: i64) {
    sql.push(format_args!(
        " ORDER BY {order_by} LIMIT {limit} OFFSET {offset}"
    ));
}

/// A list's order for cursor pages: its time column (if any) and id
/// column, and whether the list runs newest first.
#[derive(Debug, Clone, Copy)]
pub struct Order {
    pub time: Option<&'static str>,
    pub id: &'static str,
    pub descending: bool,
}

impl Order {
    /// `ORDER BY` in the direction the keyset reads.
    fn order_by(&self, keyset: &Keyset) -> String {
        let dir = if self.descending != keyset.backward {
            "DESC"
        } else {
            "ASC"
        };
        match self.time {
            Some(time) => format!("{time} {dir}, {} {dir}", self.id),
            None => format!("{} {dir}", self.id),
        }
    }
}

/// Appends the keyset's bound (a row comparison, which a b-tree index on
/// the same columns reads as a range) without its `ORDER BY`.
fn push_keyset_bound(sql: &mut Sql, order: &Order, keyset: &Keyset) {
    let Some(from) = keyset.from else { return };
    let op = if order.descending != keyset.backward {
        "<"
    } else {
        ">"
    };
    match (order.time, from.time()) {
        (Some(time), Some(at)) => {
            sql.push(format_args!(" AND ({time}, {}) {op} (", order.id))
                .bind(at)
                .push(", ")
                .bind(from.id)
                .push(")");
        }
        // A cursor of another order cannot get here (its tag names the
        // order); a position without a time is an id-ordered list's.
        _ => {
            sql.push(format_args!(" AND {} {op} ", order.id))
                .bind(from.id);
        }
    }
}

/// Which rows of a list a statement reads: a page by number, or a keyset.
#[derive(Debug, Clone, Copy)]
pub enum Window {
    Page { limit: i64, offset: i64 },
    Keyset(Keyset),
}

impl Window {
    /// `ORDER BY` for this window, without the keyword.
    fn order_by(&self, order: &Order) -> String {
        match self {
            Self::Page { .. } => order.order_by(&Keyset {
                from: None,
                backward: false,
                limit: 0,
            }),
            Self::Keyset(keyset) => order.order_by(keyset),
        }
    }
}

/// The window's bound (for a keyset), `ORDER BY`, `LIMIT` and `OFFSET`
/// (written in: see `push_page`).
fn push_window(sql: &mut Sql, order: &Order, window: &Window) {
    match window {
        Window::Page { limit, offset } => push_page(sql, &window.order_by(order), *limit, *offset),
        Window::Keyset(keyset) => {
            push_keyset_bound(sql, order, keyset);
            sql.push(format_args!(
                " ORDER BY {} LIMIT {}",
                window.order_by(order),
                keyset.limit
            ));
        }
    }
}

/// `column = value` for one value, `column = ANY(values)` for several. The
/// planner reads a plain equality as a prefix of the (status, severity,
/// created_at, id) index, so a one-value filter's page comes in index order
/// with nothing to sort or filter; `= ANY` of one element it does not.
fn push_one_of<T>(sql: &mut Sql, column: &str, values: &[T])
where
    T: Choice + Param,
    Vec<T>: Param,
{
    match values {
        [one] => {
            sql.push(format_args!(" AND {column} = ")).bind(*one);
        }
        _ => {
            sql.push(format_args!(" AND {column} = ANY("))
                .bind(values.to_vec())
                .push(")");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Severity;

    #[test]
    fn a_shown_statement_has_its_parameters_as_postgres_reads_them() {
        let mut sql = Sql::new("SELECT 1 WHERE TRUE", true);
        push_one_of(&mut sql, "severity", &[Severity::High]);
        push_one_of(&mut sql, "severity", &[Severity::High, Severity::Critical]);
        let since = OffsetDateTime::from_unix_timestamp_nanos(1_999).unwrap();
        push_time_range(
            &mut sql,
            "t",
            &TimeRange {
                since: Some(since),
                until: None,
            },
        );
        let shown = sql.statement("q");
        assert_eq!(
            shown.sql,
            "SELECT 1 WHERE TRUE AND severity = $1 AND severity = ANY($2) AND t >= $3"
        );
        assert_eq!(
            shown.params,
            ["High", "{High,Critical}", "1970-01-01T00:00:00.000001Z"]
        );
    }

    #[test]
    fn text_arrays_are_quoted_and_nulls_are_null() {
        let shown = vec![Some("a\"b".to_owned()), None, Some("c\\d,e".to_owned())].text();
        assert_eq!(shown, r#"{"a\"b",NULL,"c\\d,e"}"#);
        assert_eq!(vec![Some(3_i64), None].text(), "{3,NULL}");
    }

    #[test]
    fn a_statement_that_runs_keeps_no_text_of_its_parameters() {
        let mut sql = Sql::new("SELECT 1 WHERE TRUE", false);
        push_one_of(&mut sql, "severity", &[Severity::High]);
        assert!(sql.statement("q").params.is_empty());
    }
}
