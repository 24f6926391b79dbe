//! End-to-end tests: every endpoint through the router `tmctl serve` runs,
//! against a real PostgreSQL with a fresh database per test.

mod admin_fn;
mod alerts;
mod apigw;
mod events;
mod helpers;
mod logs;
mod openapi;
mod pagination;
mod requests;
mod roles;
mod throttle;
mod tmctl_cli;
mod token;
mod unavailable;
