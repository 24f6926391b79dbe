//! `GET /api/alerts/stats/`: where triage stands, for dashboards.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;

use crate::models::query::TimeRange;
use crate::models::user::UserRef;

crate::filters! {
    /// `GET /api/alerts/stats/`: the window, the last 7 days unless given.
    pub struct StatsWindow {
        /// Alerts raised
        created_at: TimeRange,
    }
}

/// The window when `since` or `until` is not given: the 7 days up to now.
pub const DEFAULT_WINDOW: time::Duration = time::Duration::days(7);

impl StatsWindow {
    /// `since` and `until`, as asked or from `now`.
    pub fn bounds(&self, now: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
        let until = self.created_at.until.unwrap_or(now);
        let since = self.created_at.since.unwrap_or(until - DEFAULT_WINDOW);
        (since, until)
    }
}

/// How long alerts took to reach a status, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Durations {
    /// How many alerts of the window reached it.
    pub count: i64,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub mean_seconds: Option<f64>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub median_seconds: Option<f64>,
}

/// Open alerts (not Resolved) by how long ago they were raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OpenByAge {
    #[serde(rename = "<1h")]
    pub under_an_hour: i64,
    #[serde(rename = "1h-24h")]
    pub under_a_day: i64,
    #[serde(rename = "1d-7d")]
    pub under_a_week: i64,
    #[serde(rename = ">7d")]
    pub older: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AssigneeCount {
    /// `null`: unassigned.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub assignee: Option<UserRef>,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Stats {
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub since: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub until: OffsetDateTime,
    /// Alerts raised in the window, by status then severity (every pair, 0 included).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub counts: BTreeMap<String, BTreeMap<String, i64>>,
    /// From raised to first acknowledged, for alerts raised in the window.
    pub time_to_acknowledge: Durations,
    /// From raised to resolved, for alerts raised in the window and Resolved now.
    pub time_to_resolve: Durations,
    /// Every alert not Resolved now, whenever raised.
    pub open_by_age: OpenByAge,
    /// Every alert not Resolved now, by assignee; users with none are left out.
    pub open_by_assignee: Vec<AssigneeCount>,
}
