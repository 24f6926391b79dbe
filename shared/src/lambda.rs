//! Adapting API Gateway requests, as `lambda_http` delivers them, to the
//! routers that the local server serves unchanged.

use axum::Router;
use axum::http::Uri;
use lambda_http::request::RequestContext;
use tower::ServiceExt;
use tower::util::MapRequest;

use crate::http::access_log::RequestId;
use crate::http::client::SourceIp;
use crate::http::pagination::{ApiDomain, StagePrefix};

pub type LambdaRequest = axum::http::Request<lambda_http::Body>;

/// The service a function's `main` hands to `lambda_http::run`.
pub fn service(router: Router) -> MapRequest<Router, fn(LambdaRequest) -> LambdaRequest> {
    router.map_request(adapt as fn(LambdaRequest) -> LambdaRequest)
}

/// Every route this API serves starts here; a stage prefix comes before it.
const API_ROOT: &str = "/api/";

/// Routes on the path without the stage, remembers the stage for page links
/// and the request id for the access log.
pub fn adapt(mut req: LambdaRequest) -> LambdaRequest {
    let (stage, request_id, source_ip, domain) = match req.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV1(ctx)) => (
            ctx.stage.clone(),
            ctx.request_id.clone(),
            ctx.identity.source_ip.clone(),
            ctx.domain_name.clone(),
        ),
        Some(RequestContext::ApiGatewayV2(ctx)) => (
            ctx.stage.clone(),
            ctx.request_id.clone(),
            ctx.http.source_ip.clone(),
            ctx.domain_name.clone(),
        ),
        _ => (None, None, None, None),
    };
    if let Some(id) = request_id {
        req.extensions_mut().insert(RequestId(id));
    }
    // API Gateway's own view of the connection; no header can change it.
    if let Some(ip) = source_ip.and_then(|ip| ip.parse().ok()) {
        req.extensions_mut().insert(SourceIp(ip));
    }
    if let Some(domain) = domain.clone().filter(|d| !d.is_empty()) {
        req.extensions_mut().insert(ApiDomain(domain));
    }
    let Some(stage) = stage.filter(|s| !s.is_empty() && s != "$default") else {
        return req;
    };
    let prefix = format!("/{stage}");

    let path = req.uri().path();
    if let Some(rest) = path.strip_prefix(&prefix)
        && rest.starts_with(API_ROOT)
    {
        let rest = match req.uri().query() {
            Some(q) => format!("{rest}?{q}"),
            None => rest.to_owned(),
        };
        if let Ok(uri) = rest.parse::<Uri>() {
            *req.uri_mut() = uri;
        }
    }

    // The default execute-api host carries the stage in its public URLs; a
    // custom domain maps its own base path, which the request does not show
    // (PUBLIC_BASE_URL says it).
    if domain
        .as_deref()
        .is_some_and(|d| d.ends_with(".amazonaws.com"))
    {
        req.extensions_mut().insert(StagePrefix(prefix));
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A REST API (v1) proxy event as API Gateway sends it, reduced to what matters here.
    fn rest_event(path: &str, stage: &str, host: &str) -> LambdaRequest {
        let event = json!({
            "resource": "/api/alerts/",
            "path": path,
            "httpMethod": "GET",
            "headers": {"Host": host, "X-Forwarded-Proto": "https"},
            "multiValueHeaders": {"Host": [host], "X-Forwarded-Proto": ["https"]},
            "queryStringParameters": {"page": "2"},
            "multiValueQueryStringParameters": {"page": ["2"]},
            "requestContext": {
                "accountId": "123456789012", "resourceId": "r1", "stage": stage,
                "requestId": "req-1", "identity": {"sourceIp": "203.0.113.1"},
                "resourcePath": "/api/alerts/", "httpMethod": "GET", "apiId": "abc",
                "path": format!("/{stage}{path}"), "domainName": host,
            },
            "body": null,
            "isBase64Encoded": false,
        });
        lambda_http::request::from_str(&event.to_string()).expect("a valid event")
    }

    #[test]
    fn the_stage_is_removed_for_routing_and_kept_for_links() {
        let req = adapt(rest_event(
            "/api/alerts/",
            "Prod",
            "abc.execute-api.eu-west-1.amazonaws.com",
        ));
        assert_eq!(req.uri().path(), "/api/alerts/");
        assert_eq!(req.uri().query(), Some("page=2"));
        assert_eq!(
            req.extensions().get::<StagePrefix>().map(|p| p.0.as_str()),
            Some("/Prod")
        );
        assert_eq!(
            req.extensions().get::<RequestId>().map(|r| r.0.as_str()),
            Some("req-1")
        );
    }

    #[test]
    fn a_stage_named_like_the_api_root_is_not_mistaken_for_it() {
        let req = adapt(rest_event(
            "/api/alerts/",
            "api",
            "abc.execute-api.eu-west-1.amazonaws.com",
        ));
        assert_eq!(req.uri().path(), "/api/alerts/");
    }

    #[test]
    fn links_follow_api_gateways_domain_not_the_host_header() {
        let mut event = rest_event(
            "/api/alerts/",
            "Prod",
            "abc.execute-api.eu-west-1.amazonaws.com",
        );
        event
            .headers_mut()
            .insert("host", "evil.example".parse().unwrap());
        let req = adapt(event);
        assert_eq!(
            req.extensions().get::<ApiDomain>().map(|d| d.0.as_str()),
            Some("abc.execute-api.eu-west-1.amazonaws.com")
        );
        assert!(req.extensions().get::<StagePrefix>().is_some());
    }

    #[test]
    fn a_custom_domain_gets_no_stage_in_its_links() {
        let req = adapt(rest_event("/api/alerts/", "Prod", "soc.example.com"));
        assert_eq!(req.uri().path(), "/api/alerts/");
        assert!(req.extensions().get::<StagePrefix>().is_none());
    }
}
