//! `/playground`: a page to meet characters from a browser (pick or create
//! one, chat with streamed replies and the memories each used, search
//! memory, tell of an event). Three files compiled into the binary, no
//! CDN; served where the API docs are (`ENABLE_API_DOCS`, off in
//! production by default). It calls the REST API like any client.

use poem::http::{HeaderValue, StatusCode};
use poem::{Response, Route, handler};

const PAGE: &str = include_str!("playground/index.html");
const SCRIPT: &str = include_str!("playground/app.js");
const STYLE: &str = include_str!("playground/style.css");
const ICON: &str = include_str!("playground/icon.svg");

/// Only this origin's files and API: no inline script, no other host.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                      connect-src 'self'; img-src 'self'; base-uri 'none'; \
                      form-action 'none'; frame-ancestors 'none'";

fn file(content_type: &'static str, body: &'static str) -> Response {
    let mut response = Response::builder()
        .status(StatusCode::OK)
        .content_type(content_type)
        .body(body);
    response
        .headers_mut()
        .insert("content-security-policy", HeaderValue::from_static(POLICY));
    response
}

#[handler]
fn page() -> Response {
    file("text/html; charset=utf-8", PAGE)
}

#[handler]
fn script() -> Response {
    file("text/javascript; charset=utf-8", SCRIPT)
}

#[handler]
fn style() -> Response {
    file("text/css; charset=utf-8", STYLE)
}

#[handler]
fn icon() -> Response {
    file("image/svg+xml", ICON)
}

pub fn routes() -> Route {
    Route::new()
        .at("/", page)
        .at("/app.js", script)
        .at("/style.css", style)
        .at("/icon.svg", icon)
}
