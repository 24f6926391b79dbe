//! This function's part of the OpenAPI document.

use tm_shared::http::fields::Mode;
use tm_shared::openapi::{
    Access, Endpoint, document as assemble, object_body, path_item, schema_ref, schemas_of, text,
};
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::HttpMethod;

use crate::{AccessToken, OBTAIN_PATH, PASSWORD, REFRESH_PATH, TOKEN, TokenPair, USERNAME};

const TAG: &str = "token";

pub fn document() -> OpenApi {
    let credentials = object_body(
        "A user's credentials.",
        vec![
            (
                "username",
                text(USERNAME, "Surrounding whitespace is ignored."),
            ),
            ("password", text(PASSWORD, "Taken exactly as typed.")),
        ],
        Mode::Full,
        &[],
    );
    let refresh_body = object_body(
        "A refresh token.",
        vec![("refresh", text(TOKEN, "The `refresh` of a token pair."))],
        Mode::Full,
        &[],
    );
    let obtain = Endpoint {
        id: "token_obtain",
        tag: TAG,
        summary: "Sign in",
        description: "Answers the same for an unknown user, a wrong password and an inactive user. \
            After too many failures for one username within the window, further attempts are refused with a 429 until the lockout ends.",
        access: Access::Public,
        params: Vec::new(),
        body: Some(credentials),
        ok: (
            200,
            "An access and a refresh token.",
            Some(schema_ref::<TokenPair>()),
        ),
        errors: &[401, 429],
    };
    let refresh = Endpoint {
        id: "token_refresh",
        tag: TAG,
        summary: "Get a new access token",
        description: "The new token carries the user's current role; a deactivated user gets a 401.",
        access: Access::Public,
        params: Vec::new(),
        body: Some(refresh_body),
        ok: (
            200,
            "A new access token.",
            Some(schema_ref::<AccessToken>()),
        ),
        errors: &[401],
    };
    let mut schemas = schemas_of::<TokenPair>();
    schemas.extend(schemas_of::<AccessToken>());
    assemble(
        [
            (OBTAIN_PATH, path_item([(HttpMethod::Post, obtain.build())])),
            (
                REFRESH_PATH,
                path_item([(HttpMethod::Post, refresh.build())]),
            ),
        ],
        schemas,
    )
}
