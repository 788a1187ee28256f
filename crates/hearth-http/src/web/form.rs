//! Submitted HTML forms (`application/x-www-form-urlencoded`, WHATWG URL §5) and query strings,
//! kept as the ordered list of name/value pairs the browser sent, so repeated fields (ticked
//! checkboxes of one name) survive.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The fields of a submitted form or of a query string.
#[derive(Clone, Debug, Default)]
pub struct FormFields(Vec<(String, String)>);

impl FormFields {
    pub fn parse(bytes: &[u8]) -> Self {
        FormFields(url::form_urlencoded::parse(bytes).into_owned().collect())
    }

    /// The first value of `name`, or `""` when the field is absent.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The first value of `name`, if the field was sent.
    pub fn opt(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Whether `name` was sent more than once.
    pub fn repeated(&self, name: &str) -> bool {
        self.0.iter().filter(|(k, _)| k == name).count() > 1
    }
}

impl<S: Send + Sync> FromRequest<S> for FormFields {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let urlencoded = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
        if !urlencoded {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "This address takes a form (application/x-www-form-urlencoded).",
            )
                .into_response());
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(FormFields::parse(&bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::FormFields;

    #[test]
    fn repeated_fields_are_kept_in_order() {
        let f = FormFields::parse(b"optional=a&csrf=x%2By&optional=b+c&empty=");
        assert_eq!(f.all("optional"), vec!["a", "b c"]);
        assert_eq!(f.get("csrf"), "x+y");
        assert_eq!(f.get("missing"), "");
        assert_eq!(f.opt("empty"), Some(""));
        assert!(f.repeated("optional") && !f.repeated("csrf"));
    }
}
