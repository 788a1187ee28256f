//! Search paging. Keyset pages in the store's order (the `_page` token carries the record and
//! the position of the last or first resource shown, so writes made while a client pages never
//! shift a page), and pages of an in-memory `_sort` order anchored on the item to resume after
//! (or before), so they stay correct too.

use hearth_domain::{Cursor, ItemId, Order};
use hearth_fhir::search::{self as sp, Criteria};
use serde_json::Value;

use super::{Found, SCAN_CHUNK, Scope};
use crate::render::render_resource;
use crate::{Context, ServiceError, ServiceResult, Services};

/// Where a page starts: `n` (after a position, forward) or `p` (before it, backward) in the
/// store's order; `s` (after) or `b` (before) an anchor item in an in-memory sort order.
#[derive(Clone, Copy, Debug)]
pub(super) enum PageToken {
    After(usize, Cursor),
    Before(usize, Cursor),
    SortedAfter(ItemId),
    SortedBefore(ItemId),
}

impl PageToken {
    pub(super) fn encode(&self) -> String {
        match self {
            PageToken::After(r, c) => format!("n.{r}.{}", c.encode()),
            PageToken::Before(r, c) => format!("p.{r}.{}", c.encode()),
            PageToken::SortedAfter(id) => format!("s.{id}"),
            PageToken::SortedBefore(id) => format!("b.{id}"),
        }
    }
    pub(super) fn decode(s: &str) -> Option<Self> {
        let (kind, rest) = s.split_once('.')?;
        match kind {
            "s" => return rest.parse().ok().map(PageToken::SortedAfter),
            "b" => return rest.parse().ok().map(PageToken::SortedBefore),
            _ => {}
        }
        let (r, c) = rest.split_once('.')?;
        let r: usize = r.parse().ok()?;
        let c = Cursor::decode(c)?;
        match kind {
            "n" => Some(PageToken::After(r, c)),
            "p" => Some(PageToken::Before(r, c)),
            _ => None,
        }
    }
}

impl Services {
    /// One keyset page: `count` matches after (or before) a position, and the links around it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn keyset_page(
        &self,
        scopes: &[Scope],
        criteria: &Criteria,
        hint: Option<&str>,
        ctx: &Context,
        order: Order,
        count: usize,
        token: Option<PageToken>,
    ) -> ServiceResult<(Vec<Found>, Option<String>, Option<String>)> {
        let backward = matches!(token, Some(PageToken::Before(..)));
        let (mut scope_i, mut after) = match token {
            None => (0, None),
            Some(PageToken::After(r, c)) | Some(PageToken::Before(r, c)) => (r, Some(c)),
            Some(PageToken::SortedAfter(_) | PageToken::SortedBefore(_)) => {
                return Err(ServiceError::invalid(
                    "value",
                    "_page",
                    "this page link is not valid",
                ));
            }
        };
        let scan_order = if backward { reverse(order) } else { order };
        let mut found: Vec<Found> = Vec::new();
        let mut more = false;
        'scopes: while scope_i < scopes.len() {
            let scope = &scopes[scope_i];
            loop {
                let page = self.candidates(scope, hint, ctx, scan_order, after, SCAN_CHUNK)?;
                for (item, pos) in page.items.into_iter().zip(page.positions) {
                    if let Some(resource) = self.evaluate(scope, ctx, criteria, &item)? {
                        if found.len() == count {
                            more = true;
                            break 'scopes;
                        }
                        found.push(Found {
                            scope: scope_i,
                            pos,
                            item,
                            resource,
                        });
                    }
                }
                match page.next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            after = None;
            if backward {
                if scope_i == 0 {
                    break;
                }
                scope_i -= 1;
            } else {
                scope_i += 1;
            }
        }
        if backward {
            found.reverse();
            // Reaching the start means this is the first page again.
            let next = found.last().map(|f| PageToken::After(f.scope, f.pos).encode());
            let previous = if more {
                found.first().map(|f| PageToken::Before(f.scope, f.pos).encode())
            } else {
                None
            };
            return Ok((found, next, previous));
        }
        let next = if more {
            found.last().map(|f| PageToken::After(f.scope, f.pos).encode())
        } else {
            None
        };
        let previous = if token.is_some() {
            found.first().map(|f| PageToken::Before(f.scope, f.pos).encode())
        } else {
            None
        };
        Ok((found, next, previous))
    }
}

fn reverse(o: Order) -> Order {
    match o {
        Order::EffectiveDesc => Order::EffectiveAsc,
        Order::EffectiveAsc => Order::EffectiveDesc,
        Order::UpdatedDesc => Order::UpdatedAsc,
        Order::UpdatedAsc => Order::UpdatedDesc,
    }
}

/// The `_sort` keys of a resource, with each key's direction.
type SortKeys = Vec<(Option<sp::SortValue>, bool)>;

fn sort_keys(resource: &Value, criteria: &Criteria) -> SortKeys {
    criteria
        .sort
        .iter()
        .map(|s| (sp::sort_key(resource, s.param, s.descending), s.descending))
        .collect()
}

/// The in-memory order: the `_sort` keys (resources without a value last either way), then the
/// item id, so the order is total and an item is an exact place to resume from.
fn compare(a: &(SortKeys, ItemId), b: &(SortKeys, ItemId)) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    for ((ka, desc), (kb, _)) in a.0.iter().zip(&b.0) {
        let ord = match (ka, kb) {
            (Some(x), Some(y)) if *desc => y.cmp(x),
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => Less,
            (None, Some(_)) => Greater,
            (None, None) => Equal,
        };
        if ord != Equal {
            return ord;
        }
    }
    a.1.cmp(&b.1)
}

impl Services {
    /// One page of matches sorted in memory. Page links name the last (or first) item shown,
    /// so resources added or removed elsewhere in the order never shift a page.
    pub(super) fn sorted_page(
        &self,
        all: Vec<Found>,
        criteria: &Criteria,
        count: usize,
        token: Option<PageToken>,
    ) -> ServiceResult<(Vec<Found>, Option<String>, Option<String>)> {
        let mut keyed: Vec<((SortKeys, ItemId), Found)> = all
            .into_iter()
            .map(|f| ((sort_keys(&f.resource, criteria), f.item.meta.id), f))
            .collect();
        keyed.sort_by(|a, b| compare(&a.0, &b.0));
        // The anchor's place: from the list, or (if it no longer matches) from the item itself.
        let anchor_key = |id: ItemId| -> ServiceResult<(SortKeys, ItemId)> {
            if let Some((k, _)) = keyed.iter().find(|(k, _)| k.1 == id) {
                return Ok(k.clone());
            }
            let item = self
                .store
                .fetch_any(&[id])?
                .pop()
                .ok_or_else(|| ServiceError::invalid("value", "_page", "this page link is not valid"))?;
            let resource = item
                .body
                .as_deref()
                .map(|b| render_resource(&item.meta, b))
                .transpose()
                .map_err(ServiceError::Internal)?
                .unwrap_or(Value::Null);
            Ok((sort_keys(&resource, criteria), id))
        };
        let (start, end) = match token {
            None => (0, count.min(keyed.len())),
            Some(PageToken::SortedAfter(id)) => {
                let k = anchor_key(id)?;
                let start = keyed.partition_point(|(x, _)| compare(x, &k) != std::cmp::Ordering::Greater);
                (start, (start + count).min(keyed.len()))
            }
            Some(PageToken::SortedBefore(id)) => {
                let k = anchor_key(id)?;
                let end = keyed.partition_point(|(x, _)| compare(x, &k) == std::cmp::Ordering::Less);
                (end.saturating_sub(count), end)
            }
            Some(_) => {
                return Err(ServiceError::invalid(
                    "value",
                    "_page",
                    "this page link is not valid",
                ));
            }
        };
        let more_after = end < keyed.len();
        let more_before = start > 0;
        let page: Vec<Found> = keyed
            .into_iter()
            .skip(start)
            .take(end - start)
            .map(|(_, f)| f)
            .collect();
        let next = more_after
            .then(|| {
                page.last()
                    .map(|f| PageToken::SortedAfter(f.item.meta.id).encode())
            })
            .flatten();
        let previous = more_before
            .then(|| {
                page.first()
                    .map(|f| PageToken::SortedBefore(f.item.meta.id).encode())
            })
            .flatten();
        Ok((page, next, previous))
    }
}
