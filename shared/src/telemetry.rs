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

/// What `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` asks for.
fn asked() -> String {
    env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| env::var("RUST_LOG"))
        .unwrap_or_default()
}

/// The asked-for filter: comma-separated `level` or `target=level`
/// directives, each read on its own so one bad directive (or an empty one)
/// drops only itself; `info` unless a level is given. Lambda's `FATAL` is
/// `error`. Field and span filters (`target[span{f}]=level`) are not
/// supported and are dropped rather than widened to the whole target.
fn asked_filter(asked: &str) -> Targets {
    let mut filter = Targets::new().with_default(LevelFilter::INFO);
    let level = |raw: &str| match raw.trim() {
        fatal if fatal.eq_ignore_ascii_case("fatal") => Some(LevelFilter::ERROR),
        other => other.parse::<LevelFilter>().ok(),
    };
    for directive in asked.split(',').map(str::trim) {
        if directive.is_empty() || directive.contains(['[', ']', '{', '}']) {
            continue;
        }
        match directive.split_once('=') {
            Some((target, raw)) => {
                if let (false, Some(level)) = (target.trim().is_empty(), level(raw)) {
                    filter = filter.with_target(target.trim(), level);
                }
            }
            None => {
                if let Some(level) = level(directive) {
                    filter = filter.with_default(level);
                } else {
                    // A bare target name: everything from it, as EnvFilter reads it.
                    filter = filter.with_target(directive, LevelFilter::TRACE);
                }
            }
        }
    }
    filter
}

/// The caps, as a filter of their own that every event must pass as well
/// as the asked-for one: nothing in the setting can raise them, whatever
/// target it names (`hyper::client`, `lambda_runtime:`, ...). Targets
/// match by prefix, so each cap covers the crate's modules too.
fn caps() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(CAPPED.iter().map(|target| (*target, LevelFilter::INFO)))
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
        Box::new(
            builder
                .json()
                .without_time()
                .finish()
                .with(asked_filter(&asked()))
                .with(caps()),
        )
    } else {
        Box::new(builder.finish().with(asked_filter(&asked())).with(caps()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    fn enabled_under(asked: &str, check: impl FnOnce() -> bool) -> bool {
        let subscriber = tracing_subscriber::registry()
            .with(asked_filter(asked))
            .with(caps());
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
        for asked in ["hyper::client=trace", "hyper:=trace", "hyper_util=trace"] {
            assert!(!enabled_under(asked, || tracing::enabled!(
                target: "hyper::client",
                Level::DEBUG
            )));
        }
        assert!(!enabled_under(
            "lambda_runtime:=trace",
            || tracing::enabled!(
                target: "lambda_runtime::layers::api_response",
                Level::TRACE
            )
        ));
    }

    #[test]
    fn empty_and_trailing_directives_keep_info() {
        for asked in ["", "debug,", ",", "debug,foo=bogus"] {
            assert!(
                enabled_under(asked, || tracing::enabled!(Level::INFO)),
                "{asked:?}"
            );
        }
        assert!(enabled_under("debug,", || tracing::enabled!(Level::DEBUG)));
        assert!(enabled_under("FATAL", || tracing::enabled!(Level::ERROR)));
        assert!(!enabled_under("FATAL", || tracing::enabled!(Level::WARN)));
        assert!(enabled_under("tm_shared=debug", || tracing::enabled!(
            target: "hyper",
            Level::INFO
        )));
    }

    #[test]
    fn a_setting_that_does_not_parse_is_info_and_warn_stays_warn() {
        assert!(enabled_under("=%=", || tracing::enabled!(Level::INFO)));
        assert!(!enabled_under("=%=", || tracing::enabled!(Level::DEBUG)));
        assert!(enabled_under("warning", || tracing::enabled!(Level::INFO)));
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
