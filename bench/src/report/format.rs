//! Number formatting for the report (thousands separators, units, ratios) and Markdown tables.

use std::fmt::Write as _;

use crate::MB;

/// Formats with thousands separators and `decimals` places.
pub fn num(x: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, x.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    if x < 0.0 { format!("-{out}") } else { out }
}

/// A rate with sensible precision.
pub fn rate(x: f64) -> String {
    num(x, if x >= 100.0 { 0 } else { 1 })
}

pub fn us(x: f64) -> String {
    format!("{} µs", num(x, if x >= 100.0 { 0 } else { 1 }))
}

pub fn ms(x_us: f64) -> String {
    let x = x_us / 1000.0;
    format!("{} ms", num(x, if x >= 100.0 { 0 } else { 2 }))
}

pub fn secs_ms(x: f64) -> String {
    ms(x * 1e6)
}

/// KiB as MB (10^6 bytes).
pub fn rss_mb(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 * 1024.0 / MB)
}

pub fn ratio(x: f64) -> String {
    format!("{x:.2}×")
}

pub fn check(ok: bool) -> &'static str {
    if ok { "✓" } else { "✗" }
}

pub fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(
        out,
        "|{}",
        header
            .iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { "---|" } else { "---:|" })
            .collect::<String>()
    );
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out.push('\n');
}
