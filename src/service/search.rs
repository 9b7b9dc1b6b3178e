//! `POST .search` (RFC 7644 §3.4.3): the same query as a GET list, carried
//! in a SearchRequest body; at the root it spans Users and Groups.

use serde_json::Value;

use super::listing::{ListParams, Page};
use super::{AppState, OrgScope, groups, users};
use crate::error::{AppError, AppResult, ScimType};
use crate::scim::projection::Projection;
use crate::scim::resource::get_ci;
use crate::scim::schema::{GROUP_RESOURCE_TYPE, ResourceTypeDef, USER_RESOURCE_TYPE};

pub const SEARCH_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// A SearchRequest body, read but not yet bound to a resource type.
#[derive(Debug, Default, Clone)]
pub struct SearchRequest {
    filter: Option<String>,
    sort_by: Option<String>,
    descending: bool,
    start_index: Option<i64>,
    count: Option<i64>,
    cursor: Option<String>,
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

impl SearchRequest {
    pub fn from_body(body: &Value) -> AppResult<Self> {
        let Value::Object(body) = body else {
            return Err(AppError::invalid_syntax(
                "a SearchRequest must be a JSON object",
            ));
        };
        if let Some(schemas) = get_ci(body, "schemas")
            && !schemas.as_array().is_some_and(|s| {
                s.iter().any(|u| {
                    u.as_str()
                        .is_some_and(|u| u.eq_ignore_ascii_case(SEARCH_REQUEST_URN))
                })
            })
        {
            return Err(AppError::invalid_syntax(format!(
                "schemas must contain {SEARCH_REQUEST_URN}"
            )));
        }
        let text = |name: &str| -> AppResult<Option<String>> {
            match get_ci(body, name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(AppError::invalid_value(format!("{name} must be a string"))),
            }
        };
        let integer = |name: &str| -> AppResult<Option<i64>> {
            match get_ci(body, name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
                // JSON has one number type: 2.0 is the integer 2.
                Some(Value::Number(n))
                    if n.as_f64()
                        .is_some_and(|f| f.fract() == 0.0 && f.abs() < 1e15) =>
                {
                    Ok(n.as_f64().map(|f| f as i64))
                }
                Some(Value::String(s)) => s
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| AppError::invalid_value(format!("{name} must be an integer"))),
                Some(_) => Err(AppError::invalid_value(format!(
                    "{name} must be an integer"
                ))),
            }
        };
        // RFC 7644 §3.4.3: attribute lists are JSON arrays; a comma string is accepted too.
        let names = |name: &str| -> AppResult<Option<String>> {
            match get_ci(body, name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| {
                        v.as_str().map(str::to_string).ok_or_else(|| {
                            AppError::invalid_value(format!(
                                "{name} must be a list of attribute names"
                            ))
                        })
                    })
                    .collect::<AppResult<Vec<_>>>()
                    .map(|v| Some(v.join(","))),
                Some(_) => Err(AppError::invalid_value(format!(
                    "{name} must be a list of attribute names"
                ))),
            }
        };
        let descending = match text("sortOrder")?.as_deref().map(str::trim) {
            None | Some("") => false,
            Some(o) if o.eq_ignore_ascii_case("ascending") => false,
            Some(o) if o.eq_ignore_ascii_case("descending") => true,
            Some(o) => {
                return Err(AppError::invalid_value(format!(
                    "sortOrder must be ascending or descending, not {o:?}"
                )));
            }
        };
        Ok(Self {
            filter: text("filter")?,
            sort_by: text("sortBy")?,
            descending,
            start_index: integer("startIndex")?,
            count: integer("count")?,
            cursor: text("cursor")?,
            attributes: names("attributes")?,
            excluded_attributes: names("excludedAttributes")?,
        })
    }

    /// The list parameters for one resource type.
    pub fn params(&self, rt: &ResourceTypeDef) -> AppResult<ListParams> {
        Ok(ListParams {
            filter: self.filter.clone(),
            sort_by: self.sort_by.clone(),
            descending: self.descending,
            start_index: self.start_index,
            count: self.count,
            cursor: self.cursor.clone(),
            projection: Projection::parse(
                rt,
                self.attributes.as_deref(),
                self.excluded_attributes.as_deref(),
            )?,
        })
    }
}

pub async fn users(state: &AppState, scope: &OrgScope, request: &SearchRequest) -> AppResult<Page> {
    users::list(state, scope, &request.params(&USER_RESOURCE_TYPE)?).await
}

pub async fn groups(
    state: &AppState,
    scope: &OrgScope,
    request: &SearchRequest,
) -> AppResult<Page> {
    groups::list(state, scope, &request.params(&GROUP_RESOURCE_TYPE)?).await
}

/// A filter that names an attribute one resource type lacks finds nothing of
/// that type; it is an error only when it fits neither.
fn skip_if_not_applicable(result: AppResult<Page>) -> AppResult<Option<Page>> {
    match result {
        Ok(page) => Ok(Some(page)),
        Err(AppError::BadRequest {
            scim_type: ScimType::InvalidFilter,
            ..
        }) => Ok(None),
        Err(other) => Err(other),
    }
}

/// `POST /.search`: Users, then Groups, paged as one list (each part in its
/// own order; a `sortBy` sorts within each resource type).
pub async fn root(state: &AppState, scope: &OrgScope, request: &SearchRequest) -> AppResult<Page> {
    if request.cursor.is_some() {
        return Err(AppError::invalid_value(
            "cursor paging is per resource type: use /Users/.search or /Groups/.search",
        ));
    }
    let start = request.start_index.unwrap_or(1).max(1);
    let user_page = skip_if_not_applicable(users(state, scope, request).await);
    // Groups start where Users end: their window is what is left of this one.
    let user_total = match &user_page {
        Ok(Some(page)) => page.total.unwrap_or(0) as i64,
        _ => 0,
    };
    let user_count = user_page
        .as_ref()
        .map_or(0, |p| p.as_ref().map_or(0, |p| p.resources.len())) as i64;
    let wanted = request
        .count
        .map_or(state.settings.default_page_size as i64, |c| c.max(0))
        .min(state.settings.max_page_size as i64);
    let group_request = SearchRequest {
        start_index: Some((start - user_total).max(1)),
        count: Some(wanted - user_count),
        ..request.clone()
    };
    let group_page = skip_if_not_applicable(groups(state, scope, &group_request).await);
    let (user_page, group_page) = match (user_page, group_page) {
        (Ok(None), Ok(None)) => {
            // Neither type accepts it: report why, as the Users search said.
            users(state, scope, request).await?;
            return Err(AppError::invalid_filter(
                "the filter applies to no resource type",
            ));
        }
        (u, g) => (u?, g?),
    };
    let mut resources = Vec::new();
    let mut total = 0;
    for page in [user_page, group_page].into_iter().flatten() {
        total += page.total.unwrap_or(0);
        resources.extend(page.resources);
    }
    Ok(Page {
        total: Some(total),
        start_index: Some(start as u64),
        resources,
        next_cursor: None,
        previous_cursor: None,
    })
}
