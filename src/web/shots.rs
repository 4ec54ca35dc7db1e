//! A dispatch's screenshots on its page (ADR 0125): each screenshots gate's latest images of
//! its head, shown beside its diff, and each image served only while its bytes are the ones
//! its signed `gate_result` hashed.

use std::fmt::Write as _;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use vnx::ids::DispatchId;
use vnx::receipts::GateResult;

use super::html::esc;

/// The page's section of `id`'s screenshots: each image with its page, size and hash, or why
/// the gate took none; empty when no screenshots gate ran.
pub(super) fn section(id: &DispatchId, results: Result<Vec<GateResult>, String>) -> String {
    let results = match results {
        Ok(r) if r.is_empty() => return String::new(),
        Ok(r) => r,
        Err(e) => return format!("<p class=\"said bad\">No screenshots: {}</p>", esc(&e)),
    };
    let mut b = String::from("<h2>Screenshots</h2>");
    for r in &results {
        if r.screenshots.is_empty() {
            let why = r.reason.as_deref().unwrap_or("(no reason)");
            let _ = write!(
                b,
                "<p class=\"said bad\">{}: {}</p>",
                esc(&r.gate),
                esc(why)
            );
        }
        b.push_str("<div class=\"shots\">");
        for (n, s) in r.screenshots.iter().enumerate() {
            let _ = write!(
                b,
                "<figure><a href=\"/d/{id}/shots/{gate}/{n}\"><img src=\"/d/{id}/shots/{gate}/{n}\" \
                 alt=\"{path} at {w}×{h}\" loading=\"lazy\"></a><figcaption>{path} · {w}×{h} · \
                 sha256 {short}</figcaption></figure>",
                gate = esc(&r.gate),
                path = esc(&s.path),
                w = s.width,
                h = s.height,
                short = esc(&s.sha256[..s.sha256.len().min(12)]),
            );
        }
        b.push_str("</div>");
    }
    b
}

/// One image of `results`, `/d/{id}/shots/{gate}/{n}`: its bytes, only while they hash as
/// recorded.
pub(super) fn image(results: Result<Vec<GateResult>, String>, gate: &str, n: usize) -> Response {
    let results = match results {
        Ok(r) => r,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    };
    let shot = (results.iter())
        .find(|r| r.gate == gate)
        .and_then(|r| r.screenshots.get(n));
    match shot.map(vnx::gate::shots::image) {
        None => (StatusCode::NOT_FOUND, "no such screenshot\n").into_response(),
        Some(Ok(png)) => ([(header::CONTENT_TYPE, "image/png")], png).into_response(),
        Some(Err(why)) => (StatusCode::CONFLICT, format!("{why}\n")).into_response(),
    }
}
