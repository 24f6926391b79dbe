//! End-to-end tests: every endpoint through the router `tmctl serve` runs,
//! against a real PostgreSQL with a fresh database per test.

mod admin_fn;
mod alerts;
mod apigw;
mod audit;
mod batch;
mod bulk;
mod cursors;
mod dedup;
mod events;
mod headers;
mod helpers;
mod idempotency;
mod keys;
mod least_privilege;
mod logs;
mod openapi;
mod pagination;
mod requests;
mod roles;
mod serve;
mod sessions;
mod silences;
mod throttle;
mod tmctl_cli;
mod token;
mod triage;
mod unavailable;
mod users;
