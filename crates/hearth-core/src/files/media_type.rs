//! Media types as HTTP carries them (RFC 9110 §8.3.1): `type "/" subtype *( OWS ";" OWS
//! parameter )`, each name a token, each parameter value a token or a quoted string. A file's
//! content type is checked here and kept in one normal form: type, subtype and parameter names
//! lower-cased, parameters joined by `"; "`, so it is also a valid FHIR `code`.

use crate::{ServiceError, ServiceResult};

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_tchar)
}

/// A quoted string (RFC 9110 §5.6.4) without control characters.
fn is_quoted(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
        return false;
    };
    let mut escaped = false;
    for c in inner.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' || (c.is_control() && c != '\t') {
            return false;
        }
    }
    !escaped
}

/// The normal form of `text`, or an error naming what is wrong with it (`field` says where it
/// came from, e.g. `Content-Type`).
pub fn normalize(text: &str, field: &str) -> ServiceResult<String> {
    let bad = |why: &str| {
        ServiceError::invalid(
            "value",
            "",
            format!("{field} {text:?} is not a media type (type/subtype, e.g. application/pdf): {why}"),
        )
    };
    let mut parts = text.split(';');
    let essence = parts.next().unwrap_or("").trim();
    let (ty, sub) = essence.split_once('/').ok_or_else(|| bad("no \"/\""))?;
    if !is_token(ty) || !is_token(sub) {
        return Err(bad("the type and subtype must be tokens"));
    }
    let mut out = format!("{}/{}", ty.to_ascii_lowercase(), sub.to_ascii_lowercase());
    for p in parts {
        let p = p.trim_matches([' ', '\t']);
        if p.is_empty() {
            continue;
        }
        let (name, value) = p.split_once('=').ok_or_else(|| bad("a parameter has no \"=\""))?;
        if !is_token(name) || !(is_token(value) || is_quoted(value)) {
            return Err(bad("a parameter is not name=value"));
        }
        out.push_str("; ");
        out.push_str(&name.to_ascii_lowercase());
        out.push('=');
        out.push_str(value);
    }
    Ok(out)
}

/// Whether a media type names FHIR JSON (`application/fhir+json`, the older
/// `application/json+fhir`), parameters aside.
pub fn is_fhir_json(media_type: &str) -> bool {
    let essence = media_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/fhir+json")
        || essence.eq_ignore_ascii_case("application/json+fhir")
}

/// Whether a media type names FHIR XML, which Hearth does not speak.
pub fn is_fhir_xml(media_type: &str) -> bool {
    let essence = media_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/fhir+xml")
        || essence.eq_ignore_ascii_case("application/xml+fhir")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_are_checked_and_normalised() {
        assert_eq!(normalize("application/pdf", "x").unwrap(), "application/pdf");
        assert_eq!(
            normalize(" Text/Plain ;Charset=UTF-8;  format=\"a b\"", "x").unwrap(),
            "text/plain; charset=UTF-8; format=\"a b\""
        );
        assert_eq!(normalize("application/dicom", "x").unwrap(), "application/dicom");
        for bad in [
            "",
            "pdf",
            "application/",
            "/pdf",
            "application /pdf",
            "image/jpeg; q",
            "image/jpeg; a=b c",
            "text/plain; a=\"unterminated",
            "a/b/c",
            "text/plain\u{0}",
        ] {
            let e = normalize(bad, "Content-Type").unwrap_err();
            assert!(e.to_string().contains("Content-Type"), "{bad:?}: {e}");
        }
        assert!(is_fhir_json("application/fhir+json; charset=utf-8"));
        assert!(is_fhir_json("application/json+fhir"));
        assert!(!is_fhir_json("application/json"));
        assert!(is_fhir_xml("application/fhir+xml"));
    }
}
