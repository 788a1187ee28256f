//! Bulk creates: a batch made only of creates (what an import sends) is written with a few
//! multi-row statements (`unnest` of arrays) instead of a few statements per item, with the same
//! results and errors as the op-by-op path in `write`.

use std::collections::{HashMap, HashSet};

use hearth_domain::{ItemContent, ItemId, ItemMeta, WriteOp};
use hearth_store::codec::{Extras, compress_body};
use hearth_store::{StoreError, StoreResult};

use crate::db::{Db, col};
use crate::write::{Keys, Writing, flags_of, meta_of};

/// The creates of a batch made only of creates with distinct item ids and client ids: then no
/// op's outcome depends on another's, so they can be written a few statements per batch rather
/// than per item (bulk import). Anything else goes op by op.
pub(crate) fn bulk_creates(ops: &[WriteOp]) -> Option<Vec<(ItemId, &ItemContent)>> {
    if ops.len() < 2 {
        return None;
    }
    let mut ids = HashSet::with_capacity(ops.len());
    let mut cids = HashSet::new();
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        let WriteOp::Create { id, content } = op else {
            return None;
        };
        if !ids.insert(*id)
            || content
                .client_id
                .as_ref()
                .is_some_and(|c| !cids.insert(c.as_str()))
        {
            return None;
        }
        out.push((*id, content));
    }
    Some(out)
}

/// Writes many creates at once (see [`bulk_creates`]), reporting the same error the op-by-op path
/// would: that of the first op whose item id or client id is taken.
pub(crate) fn create_many(
    db: &mut Db<'_>,
    keys: &Keys,
    w: &Writing,
    last_seq: i64,
    ops: &[(ItemId, &ItemContent)],
) -> StoreResult<Vec<ItemMeta>> {
    let n = ops.len();
    let mut ids = Vec::with_capacity(n);
    let mut types = Vec::with_capacity(n);
    let mut dts = Vec::with_capacity(n);
    let mut effective = Vec::with_capacity(n);
    let mut flags = Vec::with_capacity(n);
    let mut seqs = Vec::with_capacity(n);
    let mut extras = Vec::with_capacity(n);
    let mut bodies = Vec::with_capacity(n);
    for (i, (id, c)) in ops.iter().enumerate() {
        ids.push(id.0);
        types.push(c.resource_type.as_str());
        dts.push(keys.dts[&c.data_type]);
        effective.push(c.effective.0);
        flags.push(flags_of(c));
        seqs.push(last_seq + 1 + i as i64);
        extras.push(Extras::of(c).encode());
        bodies.push(compress_body(&c.body)?);
    }
    let rows = db.query(
        "WITH input AS (
             SELECT * FROM unnest($3::uuid[], $4::text[], $5::bigint[], $6::bigint[], $7::smallint[], $8::bigint[],
                                  $9::text[], $10::bytea[])
                 WITH ORDINALITY AS t(id, resource_type, dt, effective, flags, seq, extras, body, n)),
         i AS (
             INSERT INTO items (id, rk, resource_type, version, state, dt, effective, flags,
                                created_at, created_by, updated_at, updated_by)
             SELECT id, $1, resource_type, 1, 0, dt, effective, flags, $2, $11, $2, $11 FROM input ORDER BY n
             ON CONFLICT (id) DO NOTHING
             RETURNING ik, id),
         v AS (
             INSERT INTO versions (ik, version, rk, seq, kind, state, at, actor, dt, effective, flags, extras, body)
             SELECT i.ik, 1, $1, input.seq, 0, 0, $2, $11, input.dt, input.effective, input.flags, input.extras,
                    input.body
             FROM i JOIN input ON input.id = i.id)
         SELECT id, ik FROM i",
        &[&w.rk, &w.stamp.at.0, &ids, &types, &dts, &effective, &flags, &seqs, &extras, &bodies, &w.actor],
    )?;
    let mut iks = HashMap::with_capacity(rows.len());
    for r in &rows {
        iks.insert(ItemId(col(r, 0)?), col::<i64>(r, 1)?);
    }
    // Client ids of the items written; a taken one inserts nothing.
    let (mut cids, mut cid_iks, mut hashes, mut patients) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (id, c) in ops {
        if let (Some(cid), Some(ik)) = (&c.client_id, iks.get(id)) {
            cids.push(cid.as_str());
            cid_iks.push(*ik);
            hashes.push(c.content_hash()[..16].to_vec());
            patients.push(c.resource_type == "Patient");
        }
    }
    let mut claimed = HashSet::with_capacity(cids.len());
    if !cids.is_empty() {
        for r in db.query(
            "INSERT INTO client_ids (rk, writer, client_id, ik, content_hash, patient)
             SELECT $1, $2, c, k, h, p FROM unnest($3::text[], $4::bigint[], $5::bytea[], $6::bool[]) AS t(c, k, h, p)
             ON CONFLICT DO NOTHING RETURNING client_id",
            &[&w.rk, &w.writer, &cids, &cid_iks, &hashes, &patients],
        )? {
            claimed.insert(col::<String>(&r, 0)?);
        }
    }
    for (id, c) in ops {
        if !iks.contains_key(id) {
            return Err(StoreError::DuplicateItem(*id));
        }
        if let Some(cid) = c.client_id.as_ref().filter(|cid| !claimed.contains(*cid)) {
            return Err(StoreError::DuplicateClientId(cid.clone()));
        }
    }
    let (mut codes, mut code_iks) = (Vec::new(), Vec::new());
    for (id, c) in ops {
        for code in &c.codes {
            codes.push(code.as_str());
            code_iks.push(iks[id]);
        }
    }
    if !codes.is_empty() {
        db.exec(
            "INSERT INTO item_codes (rk, code, ik) SELECT $1, c, k FROM unnest($2::text[], $3::bigint[]) AS t(c, k)
             ON CONFLICT DO NOTHING",
            &[&w.rk, &codes, &code_iks],
        )?;
    }
    Ok(ops
        .iter()
        .enumerate()
        .map(|(i, (id, c))| meta_of(w, *id, 1, c, &w.writer, w.stamp.clone(), last_seq + 1 + i as i64))
        .collect())
}
