//! This function's part of the OpenAPI document.

use tm_shared::models::alert::{Alert, update_schema};
use tm_shared::models::event::SOURCE_MAX_CHARS;
use tm_shared::models::{AlertStatus, EventType, Severity};
use tm_shared::openapi::{
    Access, Endpoint, choices_param, datetime_param, document as assemble, id_param, page_of,
    page_params, path_item, schema_ref, schemas_of, text_param,
};
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::HttpMethod;

use crate::{DETAIL, LIST};

const TAG: &str = "alerts";

pub fn document() -> OpenApi {
    let mut filters = vec![
        choices_param::<Severity>("severity", "Only these severities."),
        choices_param::<AlertStatus>("status", "Only these statuses."),
        choices_param::<EventType>("event_type", "Only alerts on events of these types."),
        text_param(
            "source",
            SOURCE_MAX_CHARS,
            "Only alerts on events from this exact source.",
        ),
        datetime_param("since", "Only alerts raised at or after this time."),
        datetime_param("until", "Only alerts raised at or before this time."),
    ];
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
