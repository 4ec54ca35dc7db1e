//! Who may use `vnx serve`: a request is admitted only from a paired device (its token in an
//! `HttpOnly`, `SameSite=Strict` cookie, never in a URL), a request that changes anything
//! must also carry the device's anti-forgery value and come from the page's own origin, and
//! every response names the host it was asked for as one the server answers for (so a page
//! of another site cannot reach it by a name that resolves to loopback). Pairing: the
//! one-time code the server's terminal shows, typed (or read from the QR code's address)
//! into the pairing page.

use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use vnx::access::{Device, Token};

use super::html::{esc, page};
use super::{App, Form};

/// The cookie that carries a device's token.
pub const COOKIE: &str = "vnx_device";

/// A request from a paired device.
pub struct Paired {
    /// The device.
    pub device: Device,
    /// Its token (the anti-forgery value is derived from it).
    pub token: Token,
}

impl Paired {
    /// Whether `given` is this device's anti-forgery value.
    pub fn csrf_ok(&self, given: &str) -> bool {
        self.token.csrf_matches(given)
    }
}

impl FromRequestParts<Arc<App>> for Paired {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        let token = cookie(&parts.headers, COOKIE).and_then(Token::parse);
        // The devices file is read (and a use noted) on the blocking pool, never on the
        // threads that serve every connection.
        let admitted = match &token {
            Some(t) => {
                let (devices, t) = (app.devices.clone(), t.clone());
                tokio::task::spawn_blocking(move || devices.admit(&t).ok().flatten())
                    .await
                    .ok()
                    .flatten()
            }
            None => None,
        };
        match (admitted, token) {
            (Some(device), Some(token)) => Ok(Paired { device, token }),
            _ if parts.method == Method::GET => Err(Redirect::to("/pair").into_response()),
            _ => Err((StatusCode::UNAUTHORIZED, "this device is not paired\n").into_response()),
        }
    }
}

/// The value of cookie `name` in a request's headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The host of a `Host` header or an origin's authority, without its port, lower case.
pub(crate) fn host_only(authority: &str) -> String {
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        authority.split(':').next().unwrap_or(authority)
    };
    host.to_ascii_lowercase()
}

/// Checks every request's host (and an unsafe one's origin) and sets the headers every
/// response carries: no caching, no framing, scripts and styles only from the server.
pub async fn guard(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let host = (req.headers().get(header::HOST))
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let reached = (req.extensions().get::<super::conns::Reached>()).map(|r| r.0.ip());
    if !app.answers_for(&host_only(&host), reached) {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "vnx serve does not answer for this host name (give it with --host or --url)\n",
        )
            .into_response();
    }
    let safe = matches!(*req.method(), Method::GET | Method::HEAD);
    if !safe {
        let origin = (req.headers().get(header::ORIGIN)).and_then(|o| o.to_str().ok());
        let same = origin.is_none_or(|o| {
            let authority = o.split("://").nth(1).unwrap_or("");
            !authority.is_empty() && host_only(authority) == host_only(&host)
        });
        if !same {
            return (StatusCode::FORBIDDEN, "a request from another site\n").into_response();
        }
    }
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, "x-content-type-options", "nosniff");
    // `same-origin`, not `no-referrer`: with no referrer at all a browser sends `Origin: null`
    // on the page's own form posts, which the check above must refuse.
    set(h, "referrer-policy", "same-origin");
    set(h, "x-frame-options", "DENY");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, "cache-control", "no-store");
    }
    response
}

/// The pairing page: a code and a name for the device. The QR code's address carries the
/// code after `#`, which a browser never sends; the page's script fills it in.
pub async fn pair_page() -> Response {
    html_response(StatusCode::OK, &pair_form(""))
}

fn pair_form(said: &str) -> String {
    let said = if said.is_empty() {
        String::new()
    } else {
        format!("<p class=\"said bad\">{}</p>", esc(said))
    };
    page(
        "Pair this device",
        "",
        &format!(
            "<h1>Pair this device</h1>{said}\
             <p>Type the pairing code <code>vnx serve</code> shows in its terminal.</p>\
             <form method=\"post\" action=\"/pair\" class=\"pair\">\
             <label>Pairing code <input name=\"code\" id=\"code\" autocomplete=\"off\" \
             autocapitalize=\"characters\" required></label>\
             <label>Name this device <input name=\"name\" maxlength=\"40\" \
             placeholder=\"phone\"></label>\
             <button type=\"submit\">Pair</button></form>"
        ),
    )
}

/// A pairing code tried: a right one pairs the device and sets its cookie.
pub async fn pair(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    axum::extract::Form(form): Form,
) -> Response {
    let code = form.get("code").map(String::as_str).unwrap_or_default();
    let name = form.get("name").map(String::as_str).unwrap_or_default();
    let tried = app.pairing.lock().map_or(Err(None), |mut p| {
        p.try_code(code, peer.ip(), jiff::Timestamp::now())
            .map_err(Some)
    });
    if let Err(why) = tried {
        let said = why.map_or_else(|| "pairing is unavailable".to_owned(), |e| e.to_string());
        app.say(&format!("a pairing from {peer} was refused: {said}"));
        return html_response(StatusCode::FORBIDDEN, &pair_form(&said));
    }
    let (devices, name, from) = (app.devices.clone(), name.to_owned(), peer.ip().to_string());
    let paired = tokio::task::spawn_blocking(move || devices.pair(&name, &from))
        .await
        .map_err(|e| e.to_string())
        .and_then(|p| p.map_err(|e| e.to_string()));
    let (token, device) = match paired {
        Ok(p) => p,
        Err(e) => {
            return html_response(StatusCode::INTERNAL_SERVER_ERROR, &pair_form(&e));
        }
    };
    app.say(&format!("paired {} from {peer}", device.label()));
    let secure = if app.secure_cookie { "; Secure" } else { "" };
    let cookie = format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age=31536000{secure}",
        token.as_str()
    );
    let mut response = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// A page as a response.
pub fn html_response(status: StatusCode, html: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html.to_owned(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_compared_without_ports_or_userinfo() {
        assert_eq!(host_only("LocalHost:8787"), "localhost");
        assert_eq!(host_only("[::1]:80"), "::1");
        assert_eq!(host_only("evil@127.0.0.1:1"), "127.0.0.1");
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; vnx_device=abc; b=2"),
        );
        assert_eq!(cookie(&h, COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
