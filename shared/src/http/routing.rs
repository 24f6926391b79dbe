//! Routes, declared once with [`api!`](crate::api): each path's methods,
//! handlers and documentation in one place, from which come the router, the
//! 405's `Allow` header, the list of paths the deployment template must
//! route and (with the `openapi` feature) the function's part of the
//! document. Every path is served with and without its trailing slash, and
//! unknown paths and methods answer in the API's error format.

use axum::Router;
use axum::http::{HeaderValue, Method};
use axum::routing::MethodRouter;

use crate::error::ApiError;

/// Routes `path` (written with its trailing slash) and the same path
/// without it, answering other methods than `methods` with a 405.
///
/// Two routes rather than tower-http's `NormalizePath`: that rewrites the
/// URI before routing, so page links and the logged route template would
/// lose the trailing slash the client asked with (DRF keeps it).
pub fn route_both<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    path: &str,
    handlers: MethodRouter<S>,
    methods: &[Method],
) -> Router<S> {
    let allow = allow_header(methods);
    let handlers = handlers.fallback(move |method: Method| {
        let allow = allow.clone();
        async move { ApiError::MethodNotAllowed { method, allow } }
    });
    let bare = path.trim_end_matches('/');
    router.route(path, handlers.clone()).route(bare, handlers)
}

/// `GET, POST, HEAD`: the methods in the order declared, and HEAD, which
/// axum answers wherever GET is routed. (axum's own 405 writes `GET,HEAD`,
/// without the space DRF's clients have always seen.)
fn allow_header(methods: &[Method]) -> HeaderValue {
    let mut names: Vec<&str> = methods.iter().map(Method::as_str).collect();
    if methods.contains(&Method::GET) {
        names.push("HEAD");
    }
    HeaderValue::from_str(&names.join(", ")).expect("method names are header-safe")
}

/// The method `api!` names in lower case (`get`, `post`, ...).
pub fn method(name: &str) -> Method {
    Method::from_bytes(name.to_ascii_uppercase().as_bytes()).expect("a method name")
}

/// The router-wide fallback for paths nothing serves.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// A function's routes, declared once:
///
/// ```ignore
/// tm_shared::api! {
///     tag: "events",
///     schemas: [Event],
///     LIST => {
///         get list for Admin { summary: "...", description: "...", },
///         post create for Admin { ... },
///     },
/// }
/// ```
///
/// Each operation names an axum method (`get`, `post`, `put`, `patch`,
/// `delete`), its handler, who may call it (an [`Access`], always said: it
/// has no default here) and the other fields of its [`Endpoint`] (a trailing
/// comma after the last; the operation id is `<tag>_<handler>`). It defines
/// `PATHS`, `routes()` and, with the crate's `openapi` feature, `document()`;
/// the documentation is compiled only there, so Lambda builds carry none of it.
///
/// [`Endpoint`]: crate::openapi::Endpoint
/// [`Access`]: crate::openapi::Access
#[macro_export]
macro_rules! api {
    (
        tag: $tag:literal,
        schemas: [$($schema:ty),* $(,)?],
        $( $path:expr => {
            $( $method:ident $handler:ident for $access:ident { $($doc:tt)* } ),+ $(,)?
        } ),+ $(,)?
    ) => {
        /// Every path this function serves, each also without its trailing slash.
        pub const PATHS: &[&str] = &[$($path),+];

        /// This function's routes.
        pub fn routes() -> axum::Router<$crate::AppState> {
            let router = axum::Router::new();
            $(
                let router = $crate::http::routing::route_both(
                    router,
                    $path,
                    axum::routing::MethodRouter::new()$(.$method($handler))+,
                    &[$($crate::http::routing::method(stringify!($method))),+],
                );
            )+
            router
        }

        /// This function's part of the OpenAPI document.
        #[cfg(feature = "openapi")]
        // An operation that gives every field leaves nothing to default.
        #[allow(clippy::needless_update)]
        pub fn document() -> $crate::utoipa::openapi::OpenApi {
            #[allow(unused_imports)]
            use $crate::openapi::*;
            let mut schemas = Vec::new();
            $( schemas.extend(schemas_of::<$schema>()); )*
            document(
                [$( ($path, path_item([$(
                    (
                        http_method(stringify!($method)),
                        Endpoint {
                            id: concat!($tag, "_", stringify!($handler)),
                            tag: $tag,
                            access: Access::$access,
                            $($doc)*
                            ..Default::default()
                        }
                        .build(),
                    )
                ),+])) ),+],
                schemas,
            )
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_the_declared_methods_then_head() {
        let allow = allow_header(&[Method::GET, Method::PUT, Method::DELETE]);
        assert_eq!(allow, "GET, PUT, DELETE, HEAD");
        assert_eq!(allow_header(&[Method::POST]), "POST");
    }

    #[test]
    fn lower_case_names_are_methods() {
        assert_eq!(method("patch"), Method::PATCH);
    }
}
