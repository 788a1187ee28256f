//! Paths into FHIR JSON for the entry forms: `code.text`, `note[0].text`,
//! `telecom[system=phone].value`, `code.coding[system=http://loinc.org].code`.
//!
//! Segments are separated by dots outside brackets. `name[n]` is element `n` of an array,
//! `name[key=value]` the first element whose member `key` is the string `value` (created with that
//! member when writing). Writing `None` removes the leaf and every object or array it leaves
//! empty, since FHIR JSON allows no empty elements (https://hl7.org/fhir/R4/json.html).

use serde_json::{Map, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seg<'a> {
    Key(&'a str),
    Index(&'a str, usize),
    Where(&'a str, &'a str, &'a str),
}

fn parse(path: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    let bytes = path.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'[' => depth += 1,
            b']' => depth -= 1,
            b'.' if depth == 0 => {
                out.push(segment(&path[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(segment(&path[start..]));
    out
}

fn segment(s: &str) -> Seg<'_> {
    let Some((name, rest)) = s.split_once('[') else {
        return Seg::Key(s);
    };
    let inner = rest.strip_suffix(']').unwrap_or(rest);
    match inner.split_once('=') {
        Some((k, v)) => Seg::Where(name, k, v),
        None => Seg::Index(name, inner.parse().unwrap_or(0)),
    }
}

/// The value at `path`, if there is one.
pub fn get<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = v;
    for seg in parse(path) {
        cur = match seg {
            Seg::Key(k) => cur.get(k)?,
            Seg::Index(k, i) => cur.get(k)?.get(i)?,
            Seg::Where(k, key, val) => cur
                .get(k)?
                .as_array()?
                .iter()
                .find(|e| e.get(key).and_then(Value::as_str) == Some(val))?,
        };
    }
    Some(cur)
}

/// Sets (or with `None` removes) the value at `path`, creating what is missing on the way.
pub fn set(v: &mut Value, path: &str, new: Option<Value>) {
    let segs = parse(path);
    set_at(v, &segs, new);
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Object(o) => o.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Null => true,
        _ => false,
    }
}

fn set_at(node: &mut Value, segs: &[Seg<'_>], new: Option<Value>) {
    let Some((first, rest)) = segs.split_first() else {
        return;
    };
    let Some(obj) = node.as_object_mut() else {
        return;
    };
    match *first {
        Seg::Key(k) => {
            if rest.is_empty() {
                match new {
                    Some(v) => {
                        obj.insert(k.into(), v);
                    }
                    None => {
                        obj.shift_remove(k);
                    }
                }
                return;
            }
            if new.is_none() && !obj.contains_key(k) {
                return;
            }
            let child = obj
                .entry(k.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            set_at(child, rest, new);
            if is_empty(child) {
                obj.shift_remove(k);
            }
        }
        Seg::Index(k, i) => {
            if new.is_none() && obj.get(k).is_none_or(|a| a.get(i).is_none()) {
                return;
            }
            let arr = array_at(obj, k);
            while arr.len() <= i {
                arr.push(Value::Object(Map::new()));
            }
            if rest.is_empty() {
                match new {
                    Some(v) => arr[i] = v,
                    None => {
                        arr.remove(i);
                    }
                }
            } else {
                set_at(&mut arr[i], rest, new);
                if is_empty(&arr[i]) {
                    arr.remove(i);
                }
            }
            if arr.is_empty() {
                obj.shift_remove(k);
            }
        }
        Seg::Where(k, key, val) => {
            let matches = |e: &Value| e.get(key).and_then(Value::as_str) == Some(val);
            let found = obj
                .get(k)
                .and_then(Value::as_array)
                .and_then(|a| a.iter().position(matches));
            if new.is_none() && found.is_none() {
                return;
            }
            let arr = array_at(obj, k);
            let pos = found.unwrap_or_else(|| {
                let mut m = Map::new();
                m.insert(key.into(), Value::String(val.into()));
                arr.push(Value::Object(m));
                arr.len() - 1
            });
            if rest.is_empty() {
                match new {
                    Some(v) => arr[pos] = v,
                    None => {
                        arr.remove(pos);
                    }
                }
            } else {
                set_at(&mut arr[pos], rest, new);
                // Only the selecting member left: the element said nothing else.
                if arr[pos].as_object().is_none_or(|o| o.len() <= 1) {
                    arr.remove(pos);
                }
            }
            if arr.is_empty() {
                obj.shift_remove(k);
            }
        }
    }
}

fn array_at<'m>(obj: &'m mut Map<String, Value>, k: &str) -> &'m mut Vec<Value> {
    let slot = obj.entry(k.to_string()).or_insert_with(|| Value::Array(vec![]));
    if !slot.is_array() {
        *slot = Value::Array(vec![]);
    }
    match slot {
        Value::Array(a) => a,
        _ => unreachable!("just made an array"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_read_and_write_and_prune() {
        let mut v = json!({"resourceType": "Patient", "telecom": [{"system": "email", "value": "a@b"}]});
        set(&mut v, "telecom[system=phone].value", Some(json!("123")));
        assert_eq!(get(&v, "telecom[system=phone].value"), Some(&json!("123")));
        assert_eq!(get(&v, "telecom[system=email].value"), Some(&json!("a@b")));
        set(&mut v, "name[0].given[0]", Some(json!("Ann")));
        assert_eq!(v["name"], json!([{"given": ["Ann"]}]));
        set(&mut v, "name[0].given[0]", None);
        assert!(v.get("name").is_none(), "{v}");
        set(&mut v, "telecom[system=phone].value", None);
        assert_eq!(v["telecom"], json!([{"system": "email", "value": "a@b"}]));
        set(
            &mut v,
            "code.coding[system=http://loinc.org].code",
            Some(json!("882-1")),
        );
        assert_eq!(
            get(&v, "code.coding[system=http://loinc.org].code"),
            Some(&json!("882-1"))
        );
        set(&mut v, "code.coding[system=http://loinc.org].code", None);
        assert!(v.get("code").is_none(), "{v}");
        // Removing what is not there changes nothing.
        let before = v.clone();
        set(&mut v, "note[0].text", None);
        assert_eq!(v, before);
    }
}
