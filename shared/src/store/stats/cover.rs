//! A window of creation times cut into what the rollups hold whole (UTC
//! days and hours) and what is read from `alerts` itself (at most half an
//! hour at each edge), each part added or taken away. Taking away is what
//! keeps the edges small: a window ending at 10:50 is the 10:00 hour less
//! its last ten minutes, not fifty minutes of alerts read one by one.

use time::{Duration, OffsetDateTime, Time, UtcOffset};

/// A range of rollup periods (`start <= period < end`) of one span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Periods {
    pub span: Span,
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    pub sign: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Hour,
    Day,
}

impl Span {
    pub fn name(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }
}

/// Alerts raised in `start <= created_at < end`, read one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raw {
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    pub sign: i64,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Cover {
    pub periods: Vec<Periods>,
    pub raws: Vec<Raw>,
}

const HOUR: Duration = Duration::HOUR;
const DAY: Duration = Duration::DAY;

/// Later than any alert: an open end. PostgreSQL's `infinity` has no
/// `OffsetDateTime`; the year 9999 does, and ranges compare against it alike.
pub fn open_end() -> OffsetDateTime {
    time::Date::from_calendar_date(9999, time::Month::January, 1)
        .expect("a valid date")
        .midnight()
        .assume_utc()
}

fn floor_hour(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    t.replace_time(Time::from_hms(t.hour(), 0, 0).expect("a valid hour"))
}

fn floor_day(t: OffsetDateTime) -> OffsetDateTime {
    t.to_offset(UtcOffset::UTC).replace_time(Time::MIDNIGHT)
}

/// Covers `start <= created_at < end`. `now` only chooses how an end at or
/// near it is cut (the hour less what comes after the end: at most a minute
/// of alerts yet); every choice counts the same alerts.
pub fn cover(start: OffsetDateTime, end: OffsetDateTime, now: OffsetDateTime) -> Cover {
    let mut cover = Cover::default();
    if start >= end {
        return cover;
    }
    let (first, last) = (floor_hour(start), floor_hour(end));
    if first == last {
        if end - start <= HOUR / 2 {
            cover.raws.push(Raw {
                start,
                end,
                sign: 1,
            });
        } else {
            let span = Span::Hour;
            cover.periods.push(Periods {
                span,
                start: first,
                end: first + HOUR,
                sign: 1,
            });
            cover.raws.push(Raw {
                start: first,
                end: start,
                sign: -1,
            });
            cover.raws.push(Raw {
                start: end,
                end: first + HOUR,
                sign: -1,
            });
            cover.raws.retain(|raw| raw.start < raw.end);
        }
        return cover;
    }
    // The start's hour: add its tail, or take its head from the whole hour.
    let from = if start == first {
        first
    } else if first + HOUR - start <= start - first {
        cover.raws.push(Raw {
            start,
            end: first + HOUR,
            sign: 1,
        });
        first + HOUR
    } else {
        cover.raws.push(Raw {
            start: first,
            end: start,
            sign: -1,
        });
        first
    };
    // The end's hour likewise; an open end covers every period after.
    let to = if end >= open_end() || end == last {
        last
    } else if end < now - Duration::MINUTE && end - last <= last + HOUR - end {
        cover.raws.push(Raw {
            start: last,
            end,
            sign: 1,
        });
        last
    } else {
        cover.raws.push(Raw {
            start: end,
            end: last + HOUR,
            sign: -1,
        });
        last + HOUR
    };
    hours_and_days(&mut cover.periods, from, to, end >= open_end());
    cover
}

/// Whole hours `from <= hour < to` as days and at most 12 hours at each end,
/// again added or taken away from a whole day.
fn hours_and_days(out: &mut Vec<Periods>, from: OffsetDateTime, to: OffsetDateTime, open: bool) {
    let hours = |out: &mut Vec<Periods>, start, end, sign| {
        if start < end {
            out.push(Periods {
                span: Span::Hour,
                start,
                end,
                sign,
            });
        }
    };
    let (first_day, last_day) = (floor_day(from), floor_day(to));
    if open {
        let days_from = if from == first_day {
            first_day
        } else if first_day + DAY - from <= from - first_day {
            hours(out, from, first_day + DAY, 1);
            first_day + DAY
        } else {
            hours(out, first_day, from, -1);
            first_day
        };
        out.push(Periods {
            span: Span::Day,
            start: days_from,
            end: to,
            sign: 1,
        });
        return;
    }
    if first_day == last_day {
        if to - from <= DAY / 2 {
            hours(out, from, to, 1);
        } else {
            out.push(Periods {
                span: Span::Day,
                start: first_day,
                end: first_day + DAY,
                sign: 1,
            });
            hours(out, first_day, from, -1);
            hours(out, to, first_day + DAY, -1);
        }
        return;
    }
    let days_from = if from == first_day {
        first_day
    } else if first_day + DAY - from <= from - first_day {
        hours(out, from, first_day + DAY, 1);
        first_day + DAY
    } else {
        hours(out, first_day, from, -1);
        first_day
    };
    let days_to = if to == last_day {
        last_day
    } else if to - last_day <= last_day + DAY - to {
        hours(out, last_day, to, 1);
        last_day
    } else {
        hours(out, to, last_day + DAY, -1);
        last_day + DAY
    };
    if days_from < days_to {
        out.push(Periods {
            span: Span::Day,
            start: days_from,
            end: days_to,
            sign: 1,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    /// Which instants of the minute grid `[lo, hi)` a cover counts, and how
    /// often: every instant in the window once, every other none.
    fn weight(cover: &Cover, t: OffsetDateTime) -> i64 {
        let periods: i64 = cover
            .periods
            .iter()
            .filter(|p| {
                let period = match p.span {
                    Span::Hour => floor_hour(t),
                    Span::Day => floor_day(t),
                };
                p.start <= period && period < p.end
            })
            .map(|p| p.sign)
            .sum();
        let raws: i64 = cover
            .raws
            .iter()
            .filter(|r| r.start <= t && t < r.end)
            .map(|r| r.sign)
            .sum();
        periods + raws
    }

    fn check(start: OffsetDateTime, end: OffsetDateTime, now: OffsetDateTime) {
        let cover = cover(start, end, now);
        let mut t = start - 3 * DAY;
        let stop = if end >= open_end() {
            start + 12 * DAY
        } else {
            end + 3 * DAY
        };
        while t < stop {
            let inside = start <= t && t < end;
            assert_eq!(
                weight(&cover, t),
                i64::from(inside),
                "{start} {end} at {t}: {cover:?}"
            );
            t += Duration::minutes(7);
        }
        // Read one by one: at most half an hour of the past.
        for raw in cover.raws.iter().filter(|raw| raw.start <= now) {
            assert!(raw.end.min(now) - raw.start <= HOUR / 2, "{raw:?}");
        }
        let hours = cover.periods.iter().filter(|p| p.span == Span::Hour);
        for p in hours {
            assert!(p.end - p.start <= DAY / 2, "{p:?}");
        }
    }

    #[test]
    fn every_instant_of_the_window_counts_once() {
        let now = datetime!(2026-12-07 10:41:13.5 UTC);
        let starts = [
            datetime!(2026-11-30 10:41:13.5 UTC),
            datetime!(2026-11-30 10:00 UTC),
            datetime!(2026-11-30 00:00 UTC),
            datetime!(2026-11-30 10:12 UTC),
            datetime!(2026-11-30 22:50 UTC),
            datetime!(2026-12-06 23:59:59 UTC),
            datetime!(2026-12-07 10:05 UTC),
            datetime!(2026-12-07 09:59 UTC),
        ];
        let ends = [
            now + Duration::microseconds(1),
            datetime!(2026-12-07 10:00 UTC),
            datetime!(2026-12-07 00:00 UTC),
            datetime!(2026-12-07 10:20 UTC),
            datetime!(2026-12-07 01:30 UTC),
            datetime!(2026-12-07 23:10 UTC),
            datetime!(2026-12-20 13:55 UTC),
            open_end(),
        ];
        for start in starts {
            for end in ends {
                check(start, end, now);
            }
        }
    }

    #[test]
    fn an_empty_window_covers_nothing() {
        let t = datetime!(2026-12-07 10:00 UTC);
        assert_eq!(cover(t, t, t), Cover::default());
        assert_eq!(cover(t + HOUR, t, t), Cover::default());
    }

    #[test]
    fn a_week_up_to_now_reads_little_one_by_one() {
        let now = datetime!(2026-12-07 10:41:13.5 UTC);
        let cover = cover(now - 7 * DAY, now + Duration::microseconds(1), now);
        // The start's hour less its first 41 minutes would read more than its
        // last 19; the end's hour less what follows now reads nothing yet.
        assert_eq!(
            cover.raws,
            vec![
                Raw {
                    start: now - 7 * DAY,
                    end: datetime!(2026-11-30 11:00 UTC),
                    sign: 1
                },
                Raw {
                    start: now + Duration::microseconds(1),
                    end: datetime!(2026-12-07 11:00 UTC),
                    sign: -1
                },
            ]
        );
        assert!(cover.periods.len() <= 5, "{cover:?}");
    }
}
