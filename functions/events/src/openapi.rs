//! This function's part of the OpenAPI document.

use tm_shared::http::fields::Mode;
use tm_shared::models::event::{Event, body_schema, filter_params};
use tm_shared::openapi::{
    Access, Endpoint, document as assemble, id_param, page_of, page_params, path_item, schema_ref,
    schemas_of,
};
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::HttpMethod;

use crate::{DETAIL, LIST};

const TAG: &str = "events";

pub fn document() -> OpenApi {
    let mut filters = filter_params();
    filters.extend(page_params());
    let list = Endpoint {
        id: "events_list",
        tag: TAG,
        summary: "List events, newest first",
        description: "Admins only. Filters combine with AND; each names every bad value it was given.",
        access: Access::Admin,
        params: filters,
        body: None,
        ok: (200, "A page of events.", Some(page_of::<Event>())),
        errors: &[400, 404],
    };
    let create = Endpoint {
        id: "events_create",
        tag: TAG,
        summary: "Record an event",
        description: "Admins only. A High or Critical event raises an Open alert in the same write; `alert` is its id.",
        access: Access::Admin,
        params: Vec::new(),
        body: Some(body_schema(Mode::Full)),
        ok: (201, "The stored event.", Some(schema_ref::<Event>())),
        errors: &[],
    };
    let one = |id, summary, description, body, ok| Endpoint {
        id,
        tag: TAG,
        summary,
        description,
        access: Access::Admin,
        params: vec![id_param("event")],
        body,
        ok,
        errors: &[404],
    };
    let stored = || (200, "The event as stored.", Some(schema_ref::<Event>()));
    let read = one(
        "events_read",
        "Read an event",
        "Admins only.",
        None,
        stored(),
    );
    let replace = one(
        "events_replace",
        "Replace an event's writable fields",
        "Admins only. Raising the severity to High or Critical raises the event's alert if it has none; the alert's severity follows the event's.",
        Some(body_schema(Mode::Full)),
        stored(),
    );
    let update = one(
        "events_update",
        "Change some of an event's fields",
        "Admins only. As PUT, for the fields given.",
        Some(body_schema(Mode::Partial)),
        stored(),
    );
    let delete = one(
        "events_delete",
        "Delete an event and its alert",
        "Admins only.",
        None,
        (204, "Deleted.", None),
    );
    assemble(
        [
            (
                LIST,
                path_item([
                    (HttpMethod::Get, list.build()),
                    (HttpMethod::Post, create.build()),
                ]),
            ),
            (
                DETAIL,
                path_item([
                    (HttpMethod::Get, read.build()),
                    (HttpMethod::Put, replace.build()),
                    (HttpMethod::Patch, update.build()),
                    (HttpMethod::Delete, delete.build()),
                ]),
            ),
        ],
        schemas_of::<Event>(),
    )
}
