//! Charts for the HTML report, drawn as inline SVG by hedge itself: no
//! script, no font or image from anywhere. Sized by a viewBox so that they
//! fit the page, on screen and on A4.

use std::fmt::Write as _;

use super::markup::escape;
use super::thousands;
use crate::store::{CategoryCount, DayCount};

const BLOCKED: &str = "#b03a2e";
const QUERIES: &str = "#9db7d5";
const OTHER: &str = "#5b7fa6";

/// A round axis maximum at or above `n`: 1, 2 or 5 times a power of ten.
fn nice_max(n: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for factor in [1, 2, 5] {
            if step.saturating_mul(factor) >= n.max(1) {
                return step.saturating_mul(factor);
            }
        }
        step = step.saturating_mul(10);
    }
}

/// How many steps the y axis of 0..=`max` (a [`nice_max`]) is cut into,
/// so that every label is a whole number and no two are the same: 4 or 5
/// where they divide it, else 2, else 1.
fn divisions(max: u64) -> u64 {
    [4, 5, 2]
        .into_iter()
        .find(|d| max >= *d && max.is_multiple_of(*d))
        .unwrap_or(1)
}

/// `2026-11-03` as `3 Nov`.
fn short_date(date: &str) -> String {
    date.parse::<jiff::civil::Date>()
        .map(|d| d.strftime("%-d %b").to_string())
        .unwrap_or_else(|_| date.to_string())
}

/// Queries per day as bars, blocked per day as darker bars over them.
pub fn daily(days: &[DayCount]) -> String {
    let (width, height) = (700.0, 250.0);
    let (left, right, top, bottom) = (62.0, 10.0, 26.0, 40.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let max = nice_max(days.iter().map(|d| d.queries).max().unwrap_or(0));
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg viewBox="0 0 {width} {height}" role="img" aria-labelledby="daily-title"><title id="daily-title">Queries and blocked attempts per day</title>"#
    );
    // Grid and the y axis labels.
    let steps = divisions(max);
    for i in 0..=steps {
        let value = max * i / steps;
        let y = top + plot_h - plot_h * i as f64 / steps as f64;
        let _ = write!(
            svg,
            r##"<line x1="{left}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#dddddd" stroke-width="1"/><text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end" fill="#555555">{}</text>"##,
            left + plot_w,
            left - 6.0,
            y + 3.5,
            thousands(value)
        );
    }
    let n = days.len().max(1) as f64;
    let slot = plot_w / n;
    let bar = (slot * 0.8).max(0.5);
    let label_every = days.len().div_ceil(12).max(1);
    for (i, day) in days.iter().enumerate() {
        let x = left + slot * i as f64 + (slot - bar) / 2.0;
        let scale = |v: u64| plot_h * v as f64 / max as f64;
        let (hq, hb) = (scale(day.queries), scale(day.blocked));
        let _ = write!(
            svg,
            r#"<rect x="{x:.2}" y="{:.2}" width="{bar:.2}" height="{hq:.2}" fill="{QUERIES}"><title>{}: {} queries, {} blocked</title></rect>"#,
            top + plot_h - hq,
            escape(&day.date),
            thousands(day.queries),
            thousands(day.blocked)
        );
        if day.blocked > 0 {
            let _ = write!(
                svg,
                r#"<rect x="{x:.2}" y="{:.2}" width="{bar:.2}" height="{:.2}" fill="{BLOCKED}"/>"#,
                top + plot_h - hb,
                hb.max(0.8)
            );
        }
        if i % label_every == 0 {
            let _ = write!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#555555">{}</text>"##,
                x + bar / 2.0,
                top + plot_h + 14.0,
                escape(&short_date(&day.date))
            );
        }
    }
    let _ = write!(
        svg,
        r##"<line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#888888" stroke-width="1"/>"##,
        top + plot_h,
        left + plot_w,
        top + plot_h
    );
    // Legend.
    let _ = write!(
        svg,
        r##"<rect x="{left}" y="4" width="12" height="12" fill="{QUERIES}"/><text x="{:.1}" y="14" font-size="11" fill="#333333">queries</text><rect x="{:.1}" y="4" width="12" height="12" fill="{BLOCKED}"/><text x="{:.1}" y="14" font-size="11" fill="#333333">blocked</text>"##,
        left + 16.0,
        left + 80.0,
        left + 96.0
    );
    svg.push_str("</svg>");
    svg
}

/// Blocked attempts by category as horizontal bars, safeguarding
/// categories in red; at most `limit` categories.
pub fn categories(categories: &[CategoryCount], limit: usize) -> String {
    let shown: Vec<&CategoryCount> = categories.iter().take(limit).collect();
    let row = 24.0;
    let (label_w, bar_w, width) = (170.0, 420.0, 700.0);
    let height = row * shown.len().max(1) as f64 + 8.0;
    let max = shown.iter().map(|c| c.blocked).max().unwrap_or(0).max(1);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg viewBox="0 0 {width} {height}" role="img" aria-labelledby="categories-title"><title id="categories-title">Blocked attempts by category</title>"#
    );
    for (i, category) in shown.iter().enumerate() {
        let y = 4.0 + row * i as f64;
        let w = (bar_w * category.blocked as f64 / max as f64).max(1.0);
        let colour = if category.safeguarding {
            BLOCKED
        } else {
            OTHER
        };
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="#333333">{}</text><rect x="{label_w}" y="{:.1}" width="{w:.1}" height="{:.1}" fill="{colour}"/><text x="{:.1}" y="{:.1}" font-size="11" fill="#333333">{}</text>"##,
            label_w - 8.0,
            y + 15.0,
            escape(&category.category),
            y + 3.0,
            row - 8.0,
            label_w + w + 6.0,
            y + 15.0,
            thousands(category.blocked)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_maxima_are_round() {
        assert_eq!(nice_max(0), 1);
        assert_eq!(nice_max(7), 10);
        assert_eq!(nice_max(13), 20);
        assert_eq!(nice_max(420), 500);
        assert_eq!(nice_max(1_000), 1_000);
        for max in [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000] {
            let steps = divisions(max);
            assert!(max.is_multiple_of(steps), "{max}: {steps}");
        }
        assert_eq!(divisions(2), 2);
        assert_eq!(divisions(10), 5);
        assert_eq!(divisions(20), 4);
    }
}
