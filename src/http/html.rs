//! Server-rendered pages (the sign-in page and what a sign-in says when it
//! is refused): every value escaped, no script, the dashboard's stylesheet
//! and nothing inline under a strict Content-Security-Policy, never framed.

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// A page's query string or a posted form, as name -> value (the last of a
/// repeated name). Never fails: a malformed one reaches the page's checks.
pub type Form = std::collections::HashMap<String, String>;

pub fn query_map(req: &actix_web::HttpRequest) -> Form {
    form_map(req.query_string().as_bytes())
}

pub fn form_map(body: &[u8]) -> Form {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// Whether a query or form holds a NUL, in a name or a value: no name, id,
/// token or password has one, and PostgreSQL refuses it in text, so a page
/// refuses it (400) before any value reaches a lookup. (A path with one
/// never reaches a page: the middleware answers 404.)
pub fn holds_nul(form: &Form) -> bool {
    form.iter()
        .any(|(k, v)| k.contains('\0') || v.contains('\0'))
}

/// Percent-encodes a query value.
pub fn query_value(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A whole page. `body` is trusted HTML built with `escape`.
pub fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"/admin/static/app.css\"></head>\
         <body class=\"narrow\"><main>{body}</main></body></html>",
        title = escape(title),
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            // The dashboard's stylesheet; no script at all. No `form-action`:
            // the email box's answer redirects to the person's IdP, and
            // browsers hold a form's redirects to that list, which cannot
            // name every IdP.
            "default-src 'none'; style-src 'self'; base-uri 'none'; frame-ancestors 'none'",
        ))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        // `same-origin`, not `no-referrer`, which makes Chromium post forms
        // with `Origin: null` (refused by the origin check).
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html)
}

/// A page with a heading and one paragraph.
pub fn message(status: StatusCode, title: &str, text: &str, back: Option<&str>) -> HttpResponse {
    let link = back
        .map(|href| format!("<p><a href=\"{}\">Back to sign-in</a></p>", escape(href)))
        .unwrap_or_default();
    page(
        status,
        title,
        &format!("<h1>{}</h1><p>{}</p>{link}", escape(title), escape(text)),
    )
}

/// A redirect that no cache keeps.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;"
        );
    }
}
