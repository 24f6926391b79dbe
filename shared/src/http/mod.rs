//! HTTP plumbing shared by every function: bodies, query strings, paths,
//! pagination, routing and the access log.

pub mod access_log;
pub mod body;
pub mod client;
pub mod cors;
pub mod cursor;
pub mod deadline;
pub mod etag;
pub mod headers;
pub mod idempotency;
pub mod pagination;
pub mod path;
pub mod query;
pub mod routing;
