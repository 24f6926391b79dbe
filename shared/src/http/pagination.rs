//! Page-number pagination in Django REST Framework's shape:
//! `{"count", "next", "previous", "results"}` with absolute `next`/`previous`
//! links that a client follows as they are.

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::config::PublicBaseUrl;
use crate::error::ApiError;
use crate::http::cursor::{self, CursorKey, CursorPage, CursorRequest, Direction, Position, Scope};
use crate::models::fields::FieldErrors;
use crate::models::query::QueryParams;
use crate::store::Window;

pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 100;

/// At most this much of a page's results, as measured by [`fit`]: Lambda
/// refuses an answer over 6 MB, and a page of 100 events whose descriptions
/// are 10,000 control characters, each escaped to six bytes, would be one.
/// The other 1 MB is for the rest of the page and the Lambda envelope.
pub const PAGE_RESULTS_MAX_BYTES: usize = 5_000_000;

/// The longest run of `rows`, from the first, whose serialised size fits
/// `budget` (the first row always does), each row serialised once, here;
/// and, when rows were left out, the position of the last one kept, for a
/// `next` link that carries on from it. A row's size is counted as it
/// travels inside Lambda's answer, where the body is a JSON string again
/// and every `"` and `\` in it is escaped once more.
pub fn fit<T: Serialize>(
    rows: Vec<T>,
    position: impl Fn(&T) -> Position,
    budget: usize,
) -> Result<(Vec<Box<RawValue>>, Option<Position>), ApiError> {
    let mut kept: Vec<Box<RawValue>> = Vec::with_capacity(rows.len());
    let mut last = None;
    let mut used = 0;
    for row in rows {
        let raw = serde_json::value::to_raw_value(&row)
            .map_err(|e| ApiError::internal("serialising a page", e))?;
        let text = raw.get();
        let escaped = text.bytes().filter(|b| matches!(b, b'"' | b'\\')).count();
        // The comma between rows is one byte more.
        let size = text.len() + escaped + 1;
        if !kept.is_empty() && used + size > budget {
            return Ok((kept, last));
        }
        used += size;
        last = Some(position(&row));
        kept.push(raw);
    }
    Ok((kept, None))
}

/// Which page a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageNumber {
    Number(u64),
    Last,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub number: PageNumber,
    pub size: u32,
}

/// `page_size` must be a positive integer and is capped at the maximum, as
/// DRF caps it.
fn page_size(params: &QueryParams, errors: &mut FieldErrors) -> u32 {
    match params.last("page_size") {
        None => DEFAULT_PAGE_SIZE,
        // i64, as the document says: a larger number is not a page size.
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if n >= 1 => n.min(i64::from(MAX_PAGE_SIZE)) as u32,
            _ => {
                errors.add("page_size", "A positive integer is required.");
                DEFAULT_PAGE_SIZE
            }
        },
    }
}

impl PageRequest {
    /// `page` problems are a 404 "Invalid page." as in DRF.
    pub fn from_query(params: &QueryParams, errors: &mut FieldErrors) -> Result<Self, ApiError> {
        let size = page_size(params, errors);
        let number = match params.last("page") {
            None => PageNumber::Number(1),
            Some("last") => PageNumber::Last,
            Some(raw) => match raw.parse::<u64>() {
                Ok(n) if n >= 1 => PageNumber::Number(n),
                _ => return Err(ApiError::InvalidPage),
            },
        };
        Ok(Self { number, size })
    }

    /// `(limit, offset)` of the page as asked, without checking it against
    /// a count; `None` for `last`, which needs one.
    pub fn window_as_asked(&self) -> Option<(i64, i64)> {
        match self.number {
            PageNumber::Last => None,
            PageNumber::Number(n) => {
                let offset = (n - 1).saturating_mul(u64::from(self.size));
                Some((i64::from(self.size), i64::try_from(offset).ok()?))
            }
        }
    }

    /// Resolves the page against the row count: (page number, offset).
    /// Past the end is a 404, except that page 1 of nothing is an empty page.
    pub fn locate(&self, count: i64) -> Result<(u64, i64), ApiError> {
        let size = u64::from(self.size);
        let pages = (count.max(0) as u64).div_ceil(size).max(1);
        let number = match self.number {
            PageNumber::Last => pages,
            PageNumber::Number(n) if n <= pages => n,
            PageNumber::Number(_) => return Err(ApiError::InvalidPage),
        };
        let offset = (number - 1).saturating_mul(size);
        Ok((
            number,
            i64::try_from(offset).map_err(|_| ApiError::InvalidPage)?,
        ))
    }
}

/// The query parameters of paging, which every list takes.
pub const PAGING: &[&str] = &["page", "page_size", "cursor"];

/// How a list is paged: by number (the default) or by cursor (`?cursor=`,
/// even empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    Number(PageRequest),
    Cursor(CursorRequest),
}

impl Paging {
    pub fn from_query(
        url: &RequestUrl,
        key: &CursorKey,
        scope: &Scope,
        errors: &mut FieldErrors,
    ) -> Result<Self, ApiError> {
        let params = url.params();
        match params.last("cursor") {
            None => PageRequest::from_query(params, errors).map(Self::Number),
            Some(raw) => {
                if params.last("page").is_some() {
                    errors.add("page", "Give page or cursor, not both.");
                }
                Ok(Self::Cursor(CursorRequest {
                    size: page_size(params, errors),
                    from: cursor::read(key, scope, raw, errors),
                }))
            }
        }
    }
}

/// A list's answer in either paging: `count` for numbered pages, `fetch`
/// for the rows of a window, and `position` for a row's place in the
/// list's order (what a cursor holds).
pub struct Lister<'a> {
    url: &'a RequestUrl,
    key: &'a CursorKey,
    scope: Scope,
    polled: bool,
}

impl<'a> Lister<'a> {
    /// `ordering` names the list's order, which its cursors are bound to.
    pub fn new(url: &'a RequestUrl, key: &'a CursorKey, ordering: &str) -> Self {
        Self {
            url,
            key,
            scope: Scope::new(url.path(), ordering),
            polled: false,
        }
    }

    /// A list in this order is polled, as the changes feed is: its cursor
    /// pages carry `poll`, past their last row (or, on an empty page, the
    /// request itself, to be asked again).
    pub fn polled(mut self, polled: bool) -> Self {
        self.polled = polled;
        self
    }

    /// The paging asked for; any parameter that is neither a paging one
    /// nor in `filters` is refused.
    pub fn paging(&self, filters: &[&str], errors: &mut FieldErrors) -> Result<Paging, ApiError> {
        let known: Vec<&str> = PAGING.iter().chain(filters).copied().collect();
        self.url.params().refuse_unknown(&known, errors);
        Paging::from_query(self.url, self.key, &self.scope, errors)
    }

    pub async fn respond<T, Count, Fetch, Fut>(
        &self,
        paging: Paging,
        count: Count,
        fetch: Fetch,
        position: impl Fn(&T) -> Position,
    ) -> Result<Response, ApiError>
    where
        T: Serialize,
        Count: Future<Output = sqlx::Result<i64>>,
        Fetch: FnOnce(Window) -> Fut,
        Fut: Future<Output = sqlx::Result<Vec<T>>>,
    {
        match paging {
            Paging::Number(request) => {
                let page = paginate(self.url, request, count, |limit, offset| {
                    fetch(Window::Page { limit, offset })
                })
                .await?;
                self.numbered(page, position)
            }
            Paging::Cursor(request) => self.cursor_page(request, fetch, position).await,
        }
    }

    /// As [`Self::respond`], for a list whose store counts a numbered page
    /// in the statement that fetches it (`counted` gives the rows and, when
    /// there are any, the count): one round trip instead of two, and the
    /// count and the rows from one snapshot. `count` is run only for
    /// `page=last` and for an empty page.
    pub async fn respond_counted<T, Count, Counted, CountedFut, Fetch, Fut>(
        &self,
        paging: Paging,
        count: Count,
        counted: Counted,
        fetch: Fetch,
        position: impl Fn(&T) -> Position,
    ) -> Result<Response, ApiError>
    where
        T: Serialize,
        Count: Future<Output = sqlx::Result<i64>>,
        Counted: FnOnce(i64, i64) -> CountedFut,
        CountedFut: Future<Output = sqlx::Result<(Vec<T>, Option<i64>)>>,
        Fetch: FnOnce(Window) -> Fut,
        Fut: Future<Output = sqlx::Result<Vec<T>>>,
    {
        let request = match paging {
            Paging::Cursor(request) => return self.cursor_page(request, fetch, position).await,
            Paging::Number(request) => request,
        };
        let Some((limit, offset)) = request.window_as_asked() else {
            return self.respond(paging, count, fetch, position).await;
        };
        let (rows, total) = counted(limit, offset).await?;
        // No rows: the count says whether that is page 1 of nothing or a
        // page past the end.
        let total = match total {
            Some(total) => total,
            None => count.await?,
        };
        let (number, _) = request.locate(total)?;
        self.numbered(Page::new(total, number, &request, self.url, rows), position)
    }

    /// A numbered page as answered: cut to [`PAGE_RESULTS_MAX_BYTES`], when
    /// it is over, with `next` a cursor link that carries on after the last
    /// row shown (a page number would skip the rows cut).
    fn numbered<T: Serialize>(
        &self,
        page: Page<T>,
        position: impl Fn(&T) -> Position,
    ) -> Result<Response, ApiError> {
        let (results, cut) = fit(page.results, position, PAGE_RESULTS_MAX_BYTES)?;
        let next = match cut {
            Some(at) => Some(self.link(at, Direction::Forward)),
            None => page.next,
        };
        let page = Page {
            count: page.count,
            next,
            previous: page.previous,
            results,
        };
        Ok(Json(page).into_response())
    }

    fn link(&self, at: Position, direction: Direction) -> String {
        let token = cursor::encode(self.key, &self.scope, at, direction);
        self.url.with_cursor(&token)
    }

    async fn cursor_page<T, Fetch, Fut>(
        &self,
        request: CursorRequest,
        fetch: Fetch,
        position: impl Fn(&T) -> Position,
    ) -> Result<Response, ApiError>
    where
        T: Serialize,
        Fetch: FnOnce(Window) -> Fut,
        Fut: Future<Output = sqlx::Result<Vec<T>>>,
    {
        let rows = fetch(Window::Keyset(request.keyset())).await?;
        let link = |at: Position, direction: Direction| self.link(at, direction);
        let page = request.page(rows, &position, link);
        let last = page.results.last().map(&position);
        // Cut to size, a page carries on after the last row it shows.
        let (results, cut) = fit(page.results, &position, PAGE_RESULTS_MAX_BYTES)?;
        let (next, last) = match cut {
            Some(at) => (Some(link(at, Direction::Forward)), Some(at)),
            None => (page.next, last),
        };
        // Results are in the list's order: the last is the newest.
        let poll = self.polled.then(|| match last {
            Some(at) => link(at, Direction::Forward),
            None => self
                .url
                .with_cursor(self.url.params().last("cursor").unwrap_or_default()),
        });
        let page = CursorPage {
            next,
            previous: page.previous,
            poll,
            results,
        };
        Ok(Json(page).into_response())
    }
}

/// The public URL of the current request, for building page links.
#[derive(Debug, Clone)]
pub struct RequestUrl {
    /// Scheme, host, any prefix and path; no query.
    base: String,
    /// The routed path, which a cursor is bound to.
    path: String,
    params: QueryParams,
}

/// The API Gateway stage prefix (e.g. `/Prod`) the public URL has and the
/// routed path does not; set by the Lambda adapter.
#[derive(Debug, Clone)]
pub struct StagePrefix(pub String);

impl RequestUrl {
    /// `origin`: scheme, host and any path prefix, without a trailing slash.
    pub fn new(origin: &str, path: &str, params: QueryParams) -> Self {
        Self {
            base: format!("{origin}{path}"),
            path: path.to_owned(),
            params,
        }
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// This URL with `cursor` set to `token` (and no `page`).
    pub fn with_cursor(&self, token: &str) -> String {
        self.with("cursor", Some(token))
    }

    /// The query string's parameters.
    pub fn params(&self) -> &QueryParams {
        &self.params
    }

    /// This URL with `page` set to `page`; DRF drops the parameter for page 1.
    pub fn with_page(&self, page: u64) -> String {
        self.with("page", (page > 1).then(|| page.to_string()).as_deref())
    }

    /// The query with `name` replaced by `value` (or removed), and neither
    /// paging parameter of the other kind kept.
    fn with(&self, name: &str, value: Option<&str>) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (key, value) in self
            .params
            .pairs()
            .iter()
            .filter(|(k, _)| k != "page" && k != "cursor")
        {
            query.append_pair(key, value);
        }
        if let Some(value) = value {
            query.append_pair(name, value);
        }
        let query = query.finish();
        if query.is_empty() {
            self.base.clone()
        } else {
            format!("{}?{}", self.base, query)
        }
    }
}

/// The domain API Gateway served the request on (`requestContext.domainName`,
/// not the client's `Host`); set by the Lambda adapter.
#[derive(Debug, Clone)]
pub struct ApiDomain(pub String);

/// Where page links point, in this order: the configured `PUBLIC_BASE_URL`
/// (put in the request by `finish_router`; `tmctl serve` defaults it to its
/// own address); in Lambda, API Gateway's domain over https, with the stage
/// on the default execute-api host; else `http://localhost`. Never the
/// `Host` header: a client writes that, and links would send the next
/// caller wherever it said.
fn public_origin(parts: &Parts) -> String {
    if let Some(base) = parts.extensions.get::<PublicBaseUrl>() {
        return base.as_str().to_owned();
    }
    if let Some(ApiDomain(domain)) = parts.extensions.get::<ApiDomain>() {
        let prefix = parts
            .extensions
            .get::<StagePrefix>()
            .map(|p| p.0.as_str())
            .unwrap_or("");
        return format!("https://{domain}{prefix}");
    }
    "http://localhost".to_owned()
}

impl<S: Send + Sync> FromRequestParts<S> for RequestUrl {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = QueryParams::from_request_parts(parts, state).await?;
        Ok(Self::new(&public_origin(parts), parts.uri.path(), params))
    }
}

/// One page of results.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub count: i64,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<T>,
}

impl<T> Page<T> {
    pub fn new(
        count: i64,
        number: u64,
        request: &PageRequest,
        url: &RequestUrl,
        results: Vec<T>,
    ) -> Self {
        let shown = (number - 1) * u64::from(request.size) + results.len() as u64;
        Self {
            count,
            next: (shown < count.max(0) as u64).then(|| url.with_page(number + 1)),
            previous: (number > 1).then(|| url.with_page(number - 1)),
            results,
        }
    }
}

/// Counts, locates the page, then fetches it with `(limit, offset)`.
async fn paginate<T, Fetch, Fut>(
    url: &RequestUrl,
    request: PageRequest,
    count: impl Future<Output = sqlx::Result<i64>>,
    fetch: Fetch,
) -> Result<Page<T>, ApiError>
where
    Fetch: FnOnce(i64, i64) -> Fut,
    Fut: Future<Output = sqlx::Result<Vec<T>>>,
{
    let count = count.await?;
    let (number, offset) = request.locate(count)?;
    let results = fetch(i64::from(request.size), offset).await?;
    Ok(Page::new(count, number, &request, url, results))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str) -> Result<PageRequest, ApiError> {
        let params = QueryParams::parse(Some(query)).unwrap();
        let mut errors = FieldErrors::new();
        let page = PageRequest::from_query(&params, &mut errors)?;
        errors.into_result()?;
        Ok(page)
    }

    #[test]
    fn a_page_is_cut_where_its_rows_stop_fitting_counting_the_second_escape() {
        // `"ab"` is 4 bytes, and 2 more inside Lambda's answer, and a comma.
        let rows = vec![(1, "ab"), (2, "ab"), (3, "ab")];
        let at = |r: &(i64, &str)| Position::id(r.0);
        let (kept, cut) =
            fit(rows.iter().map(|r| r.1).collect(), |_| Position::id(0), 100).unwrap();
        assert_eq!((kept.len(), cut), (3, None));
        let (kept, cut) = fit(rows.clone(), at, 2 * 14).unwrap();
        // `[1,"ab"]` is 8 bytes, 10 with its quotes escaped, 11 with a comma.
        assert_eq!(kept.len(), 2);
        assert_eq!(cut, Some(Position::id(2)));
        assert_eq!(kept[1].get(), r#"[2,"ab"]"#);
        // The first row is always shown, however large.
        let (kept, cut) = fit(rows, at, 1).unwrap();
        assert_eq!((kept.len(), cut), (1, Some(Position::id(1))));
    }

    #[test]
    fn defaults_and_cap() {
        assert_eq!(request("").unwrap().size, DEFAULT_PAGE_SIZE);
        assert_eq!(request("page_size=1000").unwrap().size, MAX_PAGE_SIZE);
        assert!(matches!(
            request("page_size=0"),
            Err(ApiError::Validation(_))
        ));
        assert!(matches!(
            request("page_size=-1"),
            Err(ApiError::Validation(_))
        ));
        assert!(matches!(
            request("page_size=ten"),
            Err(ApiError::Validation(_))
        ));
    }

    #[test]
    fn bad_page_numbers_are_invalid_pages() {
        assert!(matches!(request("page=0"), Err(ApiError::InvalidPage)));
        assert!(matches!(request("page=abc"), Err(ApiError::InvalidPage)));
    }

    #[test]
    fn locate_maps_pages_to_offsets_and_refuses_past_the_end() {
        let page = request("page=3&page_size=10").unwrap();
        assert_eq!(page.locate(25).unwrap(), (3, 20));
        assert!(page.locate(20).is_err());
        assert_eq!(
            request("page=last&page_size=10")
                .unwrap()
                .locate(25)
                .unwrap(),
            (3, 20)
        );
        assert_eq!(request("").unwrap().locate(0).unwrap(), (1, 0));
        assert!(request("page=2").unwrap().locate(0).is_err());
    }

    #[test]
    fn links_keep_the_query_and_replace_the_page() {
        let params = QueryParams::parse(Some("severity=High&page=2&page_size=5")).unwrap();
        let url = RequestUrl::new("https://api.example/Prod", "/api/alerts/", params);
        assert_eq!(
            url.with_page(3),
            "https://api.example/Prod/api/alerts/?severity=High&page_size=5&page=3"
        );
        assert_eq!(
            url.with_page(1),
            "https://api.example/Prod/api/alerts/?severity=High&page_size=5"
        );
    }

    #[test]
    fn next_and_previous_appear_only_when_there_is_such_a_page() {
        let url = RequestUrl::new("http://h", "/p/", QueryParams::default());
        let req = request("page_size=2").unwrap();
        let first = Page::new(5, 1, &req, &url, vec![1, 2]);
        assert_eq!(first.next.as_deref(), Some("http://h/p/?page=2"));
        assert!(first.previous.is_none());
        let last = Page::new(5, 3, &req, &url, vec![5]);
        assert!(last.next.is_none());
        assert_eq!(last.previous.as_deref(), Some("http://h/p/?page=2"));
    }
}
