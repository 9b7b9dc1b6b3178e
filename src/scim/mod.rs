//! The SCIM protocol: schemas, input normalisation, filters, PATCH and
//! projection. Pure functions over `serde_json` values; no actix-web, no sea-orm.

pub mod filter;
pub mod members;
pub mod patch;
pub mod projection;
pub mod resource;
pub mod schema;

/// RFC 7644 §3.12 Table 9: the `scimType` values a 400 (or 409) can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
    /// RFC 9865 §3: a cursor the server cannot use.
    InvalidCursor,
}

impl ScimType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
            ScimType::InvalidCursor => "invalidCursor",
        }
    }
}

/// A request the protocol layer refuses, always a 400 with a `scimType`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct ProtocolError {
    pub scim_type: ScimType,
    pub detail: String,
}

impl ProtocolError {
    pub fn new(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self {
            scim_type,
            detail: detail.into(),
        }
    }
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidValue, detail)
    }
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidFilter, detail)
    }
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidPath, detail)
    }
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidSyntax, detail)
    }
}

pub type ProtocolResult<T> = Result<T, ProtocolError>;

/// Most characters of a client's input that an error message quotes: a
/// filter, path or query parameter may be a megabyte long, and the detail is
/// read by a person (and logged).
pub const QUOTED_CHARS: usize = 100;

/// `text` cut after [`QUOTED_CHARS`] characters, with "…" where it was cut.
pub fn excerpt(text: &str) -> String {
    match text.char_indices().nth(QUOTED_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// `text` in quotes (with Rust's escapes), cut as [`excerpt`] cuts it and
/// then saying how long it was.
pub fn quoted(text: &str) -> String {
    match text.char_indices().nth(QUOTED_CHARS) {
        Some((end, _)) => format!("{:?}… ({} bytes)", &text[..end], text.len()),
        None => format!("{text:?}"),
    }
}

/// RFC 7644 §3.14: the weak ETag of a resource version.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Whether an `If-Match` / `If-None-Match` header value names `etag`
/// (`*`, or a comma-separated list; weak comparison, RFC 7232 §2.3.2).
pub fn etag_matches(header: &str, etag: &str) -> bool {
    let opaque = |t: &str| {
        t.trim()
            .trim_start_matches("W/")
            .trim_start_matches("w/")
            .to_string()
    };
    header
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || opaque(candidate) == opaque(etag))
}

#[cfg(test)]
mod etag_tests {
    #[test]
    fn weak_and_list_matching() {
        let tag = super::etag(3);
        assert_eq!(tag, "W/\"3\"");
        assert!(super::etag_matches("W/\"3\"", &tag));
        assert!(super::etag_matches("\"3\"", &tag));
        assert!(super::etag_matches("W/\"1\", W/\"3\"", &tag));
        assert!(super::etag_matches("*", &tag));
        assert!(!super::etag_matches("W/\"4\"", &tag));
    }
}

#[cfg(test)]
mod quoting_tests {
    use super::{QUOTED_CHARS, excerpt, quoted};

    #[test]
    fn long_input_is_cut() {
        assert_eq!(quoted("a\"b"), r#""a\"b""#);
        assert_eq!(excerpt("short"), "short");
        let long = "é".repeat(QUOTED_CHARS + 1);
        let shown = quoted(&long);
        assert!(shown.starts_with(&format!("\"{}\"…", "é".repeat(QUOTED_CHARS))));
        assert!(shown.ends_with(&format!("({} bytes)", long.len())));
        assert_eq!(excerpt(&long), format!("{}…", "é".repeat(QUOTED_CHARS)));
        assert_eq!(excerpt(&"x".repeat(QUOTED_CHARS)), "x".repeat(QUOTED_CHARS));
    }
}
