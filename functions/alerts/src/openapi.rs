//! This function's part of the OpenAPI document.

use tm_shared::models::alert::{Alert, filter_params, update_schema};
use tm_shared::openapi::{
    Access, Endpoint, document as assemble, id_param, page_of, page_params, path_item, schema_ref,
    schemas_of,
};
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::HttpMethod;

use crate::{DETAIL, LIST};

const TAG: &str = "alerts";

pub fn document() -> OpenApi {
    let mut filters = filter_params();
    filters.extend(page_params());
    let list = Endpoint {
        id: "alerts_list",
        tag: TAG,
        summary: "List alerts, newest first",
        description: "Admins and analysts. Filters combine with AND; each names every bad value it was given.",
        access: Access::AnyUser,
        params: filters,
        body: None,
        ok: (200, "A page of alerts.", Some(page_of::<Alert>())),
        errors: &[400, 404],
    };
    let alert = || (200, "The alert.", Some(schema_ref::<Alert>()));
    let read = Endpoint {
        id: "alerts_read",
        tag: TAG,
        summary: "Read an alert",
        description: "Admins and analysts.",
        access: Access::AnyUser,
        params: vec![id_param("alert")],
        body: None,
        ok: alert(),
        errors: &[404],
    };
    let update = Endpoint {
        id: "alerts_update",
        tag: TAG,
        summary: "Move an alert through triage",
        description: "Admins only. Each change is recorded with who made it; two concurrent changes are applied one after the other, each judged against the status the other left.",
        access: Access::Admin,
        params: vec![id_param("alert")],
        body: Some(update_schema()),
        ok: alert(),
        errors: &[404, 409],
    };
    assemble(
        [
            (LIST, path_item([(HttpMethod::Get, list.build())])),
            (
                DETAIL,
                path_item([
                    (HttpMethod::Get, read.build()),
                    (HttpMethod::Patch, update.build()),
                ]),
            ),
        ],
        schemas_of::<Alert>(),
    )
}
