//! Every window's cover cut at each other's edges, so that what two windows
//! share (today's rows, say, which the asked-for week and the last day both
//! cover) is read once, and each window is a signed sum of pieces.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::cover::{Cover, Span};

/// Rollup periods `start <= period < end` of one span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Periods {
    pub span: Span,
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    /// Whether the first window (the only one with medians) uses it.
    pub hist: bool,
}

/// Alerts raised in `start <= created_at < end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raw {
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    pub hist: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Piece {
    Periods(usize),
    Raw(usize),
}

#[derive(Debug, Default)]
pub struct Pieces {
    pub periods: Vec<Periods>,
    pub raws: Vec<Raw>,
    /// Per window, in the order given: each piece it adds or takes away.
    pub windows: Vec<Vec<(Piece, i64)>>,
}

/// Cuts the ranges at every edge any of them has, and gives each range as
/// the elementary ranges between consecutive edges inside it.
fn cut(ranges: &[(OffsetDateTime, OffsetDateTime)]) -> Vec<Vec<(OffsetDateTime, OffsetDateTime)>> {
    let mut edges: Vec<OffsetDateTime> = ranges.iter().flat_map(|(s, e)| [*s, *e]).collect();
    edges.sort();
    edges.dedup();
    ranges
        .iter()
        .map(|(start, end)| {
            edges
                .windows(2)
                .map(|w| (w[0], w[1]))
                .filter(|(s, e)| start <= s && e <= end)
                .collect()
        })
        .collect()
}

impl Pieces {
    /// The first cover is the window with medians.
    pub fn new(covers: &[Cover]) -> Self {
        let mut pieces = Self {
            windows: vec![Vec::new(); covers.len()],
            ..Self::default()
        };
        for span in [Span::Hour, Span::Day] {
            let parts: Vec<(usize, i64, (OffsetDateTime, OffsetDateTime))> = covers
                .iter()
                .enumerate()
                .flat_map(|(win, c)| c.periods.iter().map(move |p| (win, p)))
                .filter(|(_, p)| p.span == span)
                .map(|(win, p)| (win, p.sign, (p.start, p.end)))
                .collect();
            let ranges: Vec<_> = parts.iter().map(|(_, _, r)| *r).collect();
            let mut index: BTreeMap<OffsetDateTime, usize> = BTreeMap::new();
            for ((win, sign, _), cut) in parts.iter().zip(cut(&ranges)) {
                for (start, end) in cut {
                    let i = *index.entry(start).or_insert_with(|| {
                        let hist = false;
                        pieces.periods.push(Periods {
                            span,
                            start,
                            end,
                            hist,
                        });
                        pieces.periods.len() - 1
                    });
                    pieces.periods[i].hist |= *win == 0;
                    pieces.windows[*win].push((Piece::Periods(i), *sign));
                }
            }
        }
        let parts: Vec<(usize, i64, (OffsetDateTime, OffsetDateTime))> = covers
            .iter()
            .enumerate()
            .flat_map(|(win, c)| c.raws.iter().map(move |r| (win, r.sign, (r.start, r.end))))
            .collect();
        let ranges: Vec<_> = parts.iter().map(|(_, _, r)| *r).collect();
        let mut index: BTreeMap<OffsetDateTime, usize> = BTreeMap::new();
        for ((win, sign, _), cut) in parts.iter().zip(cut(&ranges)) {
            for (start, end) in cut {
                let i = *index.entry(start).or_insert_with(|| {
                    pieces.raws.push(Raw {
                        start,
                        end,
                        hist: false,
                    });
                    pieces.raws.len() - 1
                });
                pieces.raws[i].hist |= *win == 0;
                pieces.windows[*win].push((Piece::Raw(i), *sign));
            }
        }
        pieces
    }
}

#[cfg(test)]
mod tests {
    use super::super::cover::{cover, open_end};
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    #[test]
    fn shared_rows_are_read_once_and_every_window_sums_as_its_cover() {
        let now = datetime!(2026-12-07 10:41:13.5 UTC);
        let covers: Vec<Cover> = [
            (now - Duration::WEEK, now + Duration::microseconds(1)),
            (now - Duration::HOUR, open_end()),
            (now - Duration::DAY, open_end()),
            (now - Duration::WEEK, open_end()),
        ]
        .into_iter()
        .map(|(s, e)| cover(s, e, now))
        .collect();
        let pieces = Pieces::new(&covers);
        // Disjoint pieces of each kind: none is read twice.
        for (i, a) in pieces.periods.iter().enumerate() {
            for b in &pieces.periods[i + 1..] {
                assert!(
                    a.span != b.span || a.end <= b.start || b.end <= a.start,
                    "{a:?} {b:?}"
                );
            }
        }
        for (i, a) in pieces.raws.iter().enumerate() {
            for b in &pieces.raws[i + 1..] {
                assert!(a.end <= b.start || b.end <= a.start, "{a:?} {b:?}");
            }
        }
        // Each window's pieces weigh every instant as its cover does.
        let step = Duration::minutes(13);
        for (win, c) in covers.iter().enumerate() {
            let mut t: OffsetDateTime = now - 9 * Duration::DAY;
            while t < now + 2 * Duration::DAY {
                let hour = t.replace_time(time::Time::from_hms(t.hour(), 0, 0).unwrap());
                let day = t.replace_time(time::Time::MIDNIGHT);
                let period_of = |span| if span == Span::Hour { hour } else { day };
                let expected: i64 = c
                    .periods
                    .iter()
                    .filter(|p| p.start <= period_of(p.span) && period_of(p.span) < p.end)
                    .map(|p| p.sign)
                    .chain(
                        c.raws
                            .iter()
                            .filter(|r| r.start <= t && t < r.end)
                            .map(|r| r.sign),
                    )
                    .sum();
                let got: i64 = pieces.windows[win]
                    .iter()
                    .map(|(piece, sign)| match piece {
                        Piece::Periods(i) => {
                            let p = pieces.periods[*i];
                            let period = period_of(p.span);
                            sign * i64::from(p.start <= period && period < p.end)
                        }
                        Piece::Raw(i) => {
                            let r = pieces.raws[*i];
                            sign * i64::from(r.start <= t && t < r.end)
                        }
                    })
                    .sum();
                assert_eq!(got, expected, "window {win} at {t}");
                t += step;
            }
        }
        assert!(pieces.periods.iter().any(|p| p.hist) && pieces.periods.iter().any(|p| !p.hist));
    }
}
