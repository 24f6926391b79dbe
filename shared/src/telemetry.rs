//! Logging, set up once per process.
//!
//! Like `lambda_http`'s default subscriber, the level comes from
//! `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` and `AWS_LAMBDA_LOG_FORMAT=JSON`
//! gives one JSON object per line. Unlike it, the crates that log raw
//! requests at debug or trace level (the Lambda runtime logs the whole event,
//! body and `Authorization` header included; hyper logs headers) are held at
//! `info` whatever level is asked for, so a password or token never reaches
//! the logs through a verbose setting.

use std::env;
use std::io::IsTerminal;

use tracing::Subscriber;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// Targets that see raw requests; never more verbose than `info`.
const CAPPED: &[&str] = &[
    "lambda_runtime",
    "lambda_runtime_api_client",
    "lambda_http",
    "hyper",
    "hyper_util",
    "h2",
    "aws_smithy_runtime",
    "aws_smithy_http_client",
    "aws_config",
];

/// The filter: the asked-for level or `target=level` directives, then the caps.
pub fn filter() -> Targets {
    let asked = env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    filter_for(&asked)
}

/// A setting that does not parse is `info`, as a typo must not silence the
/// logs. Every directive for a capped crate or one of its modules is held
/// at `info`, and each capped crate gets no more than the default level.
fn filter_for(asked: &str) -> Targets {
    let parsed: Targets = asked
        .parse()
        .unwrap_or_else(|_| Targets::new().with_default(LevelFilter::INFO));
    let default = parsed.default_level().unwrap_or(LevelFilter::OFF);
    let capped = |target: &str| {
        CAPPED
            .iter()
            .any(|c| target == *c || target.starts_with(&format!("{c}::")))
    };
    let mut filter = Targets::new().with_default(default);
    for (target, level) in parsed.iter() {
        let level = if capped(target) {
            level.min(LevelFilter::INFO)
        } else {
            level
        };
        filter = filter.with_target(target, level);
    }
    for target in CAPPED {
        if !parsed.iter().any(|(t, _)| t == *target) {
            filter = filter.with_target(*target, default.min(LevelFilter::INFO));
        }
    }
    filter
}

/// Logs to stdout, where Lambda and `tmctl` users expect them; colours only
/// on a terminal, never in CloudWatch.
pub fn init() {
    let json = env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let subscriber = subscriber(std::io::stdout, std::io::stdout().is_terminal(), json);
    // A second call (tests) keeps the first subscriber.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// The subscriber `init` installs, writing to `writer`.
pub fn subscriber<W>(writer: W, ansi: bool, json: bool) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_max_level(LevelFilter::TRACE)
        .with_writer(writer)
        .with_ansi(ansi)
        .with_target(false);
    if json {
        // Lambda stamps every line itself.
        Box::new(builder.json().without_time().finish().with(filter()))
    } else {
        Box::new(builder.finish().with(filter()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    fn enabled_under(asked: &str, check: impl FnOnce() -> bool) -> bool {
        let subscriber = tracing_subscriber::registry().with(filter_for(asked));
        tracing::subscriber::with_default(subscriber, check)
    }

    #[test]
    fn request_logging_crates_stay_at_info_even_at_trace() {
        for asked in ["trace", "lambda_runtime=trace,hyper=trace"] {
            assert!(!enabled_under(
                asked,
                || tracing::enabled!(target: "lambda_runtime", Level::DEBUG)
            ));
            assert!(!enabled_under(
                asked,
                || tracing::enabled!(target: "hyper", Level::TRACE)
            ));
            assert!(enabled_under(
                asked,
                || tracing::enabled!(target: "lambda_runtime", Level::INFO)
            ));
        }
        assert!(enabled_under(
            "trace",
            || tracing::enabled!(target: "tm_shared", Level::TRACE)
        ));
        assert!(!enabled_under(
            "hyper::client=trace",
            || tracing::enabled!(target: "hyper::client", Level::DEBUG)
        ));
    }

    #[test]
    fn a_setting_that_does_not_parse_is_info_and_warn_stays_warn() {
        assert!(enabled_under("=%=", || tracing::enabled!(Level::INFO)));
        assert!(!enabled_under("=%=", || tracing::enabled!(Level::DEBUG)));
        assert!(!enabled_under(
            "warn",
            || tracing::enabled!(target: "hyper", Level::INFO)
        ));
        assert!(enabled_under(
            "warn,tm_shared=debug",
            || tracing::enabled!(target: "tm_shared::store", Level::DEBUG)
        ));
    }
}
