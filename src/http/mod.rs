//! HTTP: the only module that imports actix-web. Extractors, middleware,
//! thin handlers, and the route table.

pub mod bulk;
pub mod discovery;
pub mod extract;
pub mod groups;
pub mod me;
pub mod middleware;
pub mod respond;
pub mod search;
pub mod users;

use actix_web::http::Method;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, Route};

use crate::error::AppError;

/// One served route: method, path (in the router's and OpenAPI's `{id}` form)
/// and how to build its handler (without a method guard; `configure` adds
/// it). `configure` serves exactly these, plus HEAD wherever GET is served,
/// and a test checks them against `openapi.yaml`.
pub struct RouteDef {
    pub method: Method,
    pub path: &'static str,
    pub handler: fn() -> Route,
}

pub fn routes() -> Vec<RouteDef> {
    fn r(method: Method, path: &'static str, handler: fn() -> Route) -> RouteDef {
        RouteDef {
            method,
            path,
            handler,
        }
    }
    vec![
        r(Method::GET, "/healthz", || {
            web::route().to(discovery::healthz)
        }),
        r(Method::GET, "/readyz", || {
            web::route().to(discovery::readyz)
        }),
        r(Method::GET, "/openapi.yaml", || {
            web::route().to(discovery::openapi_get)
        }),
        r(Method::GET, "/scim/v2/ServiceProviderConfig", || {
            web::route().to(discovery::service_provider_config_get)
        }),
        r(Method::GET, "/scim/v2/ResourceTypes", || {
            web::route().to(discovery::resource_types_list)
        }),
        r(Method::GET, "/scim/v2/ResourceTypes/{id}", || {
            web::route().to(discovery::resource_types_get)
        }),
        r(Method::GET, "/scim/v2/Schemas", || {
            web::route().to(discovery::schemas_list)
        }),
        r(Method::GET, "/scim/v2/Schemas/{id}", || {
            web::route().to(discovery::schemas_get)
        }),
        r(Method::POST, "/scim/v2/Bulk", || {
            web::route().to(bulk::bulk_post)
        }),
        r(Method::GET, "/scim/v2/Me", || web::route().to(me::me_get)),
        r(Method::POST, "/scim/v2/Me", || {
            web::route().to(me::me_create)
        }),
        r(Method::PUT, "/scim/v2/Me", || {
            web::route().to(me::me_replace)
        }),
        r(Method::PATCH, "/scim/v2/Me", || {
            web::route().to(me::me_patch)
        }),
        r(Method::DELETE, "/scim/v2/Me", || {
            web::route().to(me::me_delete)
        }),
        // `.search` before `{id}`: the router takes the first resource whose path matches.
        r(Method::POST, "/scim/v2/.search", || {
            web::route().to(search::root_search)
        }),
        r(Method::POST, "/scim/v2/Users/.search", || {
            web::route().to(search::users_search)
        }),
        r(Method::POST, "/scim/v2/Groups/.search", || {
            web::route().to(search::groups_search)
        }),
        r(Method::GET, "/scim/v2/Users", || {
            web::route().to(users::users_list)
        }),
        r(Method::POST, "/scim/v2/Users", || {
            web::route().to(users::users_create)
        }),
        r(Method::GET, "/scim/v2/Users/{id}", || {
            web::route().to(users::users_get)
        }),
        r(Method::PUT, "/scim/v2/Users/{id}", || {
            web::route().to(users::users_replace)
        }),
        r(Method::PATCH, "/scim/v2/Users/{id}", || {
            web::route().to(users::users_patch)
        }),
        r(Method::DELETE, "/scim/v2/Users/{id}", || {
            web::route().to(users::users_delete)
        }),
        r(Method::GET, "/scim/v2/Groups", || {
            web::route().to(groups::groups_list)
        }),
        r(Method::POST, "/scim/v2/Groups", || {
            web::route().to(groups::groups_create)
        }),
        r(Method::GET, "/scim/v2/Groups/{id}", || {
            web::route().to(groups::groups_get)
        }),
        r(Method::PUT, "/scim/v2/Groups/{id}", || {
            web::route().to(groups::groups_replace)
        }),
        r(Method::PATCH, "/scim/v2/Groups/{id}", || {
            web::route().to(groups::groups_patch)
        }),
        r(Method::DELETE, "/scim/v2/Groups/{id}", || {
            web::route().to(groups::groups_delete)
        }),
    ]
}

/// Mounts every route; a known path with an unserved method answers 405
/// with an `Allow` header (RFC 9110 §15.5.6).
pub fn configure(cfg: &mut ServiceConfig) {
    let table = routes();
    let mut paths: Vec<&'static str> = Vec::new();
    for def in &table {
        if !paths.contains(&def.path) {
            paths.push(def.path);
        }
    }
    for path in paths {
        let mut resource = web::resource(path);
        let mut allowed: Vec<String> = Vec::new();
        for def in table.iter().filter(|d| d.path == path) {
            resource = resource.route((def.handler)().method(def.method.clone()));
            allowed.push(def.method.to_string());
            if def.method == Method::GET {
                // HEAD is GET without the body; actix drops the body for HEAD.
                resource = resource.route((def.handler)().method(Method::HEAD));
                allowed.push("HEAD".into());
            }
        }
        let allow = allowed.join(", ");
        cfg.service(resource.default_service(web::to(move || {
            let allow = allow.clone();
            async move { Err::<actix_web::HttpResponse, _>(AppError::MethodNotAllowed { allow }) }
        })));
    }
}

/// The answer for a path no route serves.
pub async fn not_found(req: HttpRequest) -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
}
