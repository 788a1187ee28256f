//! What a parsed search is: [`Criteria`] (AND-ed [`Filter`]s of OR-ed values, with their
//! modifiers and prefixes) and the result controls, with the options and errors of parsing.
//! Built by [`super::query::parse`]; evaluated by `matching`.
//! <https://hl7.org/fhir/R4/search.html>

use std::fmt;
use std::time::SystemTime;

use crate::search::datetime::Range;
use crate::search::decimal::Dec;
use crate::search::registry::SearchParamDef;

/// How unknown or unsupported parameters are treated (the `Prefer: handling=` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    /// Reject the search with the collected [`SearchError`]s.
    Strict,
    /// Ignore the offending parameters and report them in [`Criteria::ignored`].
    Lenient,
}

/// Options for [`parse`].
#[derive(Debug, Clone, Copy)]
pub struct ParseOptions<'a> {
    pub handling: Handling,
    /// Parameter names the caller handles itself (`_format`, `_pretty`,
    /// `_since`, `_type`, `_page`, …): passed through in
    /// [`Criteria::passthrough`], never errors.
    pub passthrough: &'a [&'a str],
    /// The current time, for the `ap` prefix on dates.
    pub now: SystemTime,
    /// This server's base URL (e.g. `https://h.example/fhir`): reference
    /// values under it are treated as local `Type/id` references.
    pub base_url: Option<&'a str>,
}

impl<'a> ParseOptions<'a> {
    pub fn new(handling: Handling, now: SystemTime) -> ParseOptions<'a> {
        ParseOptions {
            handling,
            passthrough: &[],
            now,
            base_url: None,
        }
    }
}

/// What went wrong with one query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchErrorKind {
    /// No such parameter for the resource type.
    UnknownParameter,
    /// A known parameter or feature this engine does not support (composite,
    /// `_text`, chaining, `_has`, …).
    UnsupportedParameter,
    /// No such modifier, or not valid for the parameter's type.
    UnknownModifier,
    /// A known modifier this engine does not support (`:in`, `:not-in`,
    /// `:below` / `:above` on tokens).
    UnsupportedModifier,
    /// A value that does not parse (bad prefix, date, number, reference…).
    InvalidValue,
}

/// One rejected query parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchError {
    /// The parameter name as given (with its modifier).
    pub param: String,
    pub kind: SearchErrorKind,
    /// A message naming the parameter.
    pub message: String,
}

impl fmt::Display for SearchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SearchError {}

/// Comparison prefixes (<https://hl7.org/fhir/R4/search.html#prefix>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Sa,
    Eb,
    Ap,
}

/// Search modifiers (<https://hl7.org/fhir/R4/search.html#modifiers>) this engine evaluates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modifier {
    Missing,
    Exact,
    Contains,
    Not,
    Text,
    /// `:[type]` on a reference parameter.
    Type(String),
    Identifier,
    Below,
    Above,
    OfType,
}

/// `_summary` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Summary {
    True,
    Text,
    Data,
    Count,
    False,
}

/// `_total` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    None,
    Estimate,
    Accurate,
}

/// One `_sort` key.
#[derive(Debug, Clone, Copy)]
pub struct SortSpec {
    pub param: &'static SearchParamDef,
    pub descending: bool,
}

/// One `_include` / `_revinclude` (`Source:param[:Target]`, or `*`).
#[derive(Debug, Clone)]
pub struct Include {
    pub source: String,
    /// None for the wildcard `*` (every reference parameter of `source`).
    pub param: Option<&'static SearchParamDef>,
    pub target: Option<String>,
    /// `:iterate` (or the R3 spelling `:recurse`).
    pub iterate: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokSys {
    /// `code`: any system.
    Any,
    /// `|code`: no system.
    None,
    /// `system|code` / `system|`.
    Is(String),
}

/// One parsed OR value of a filter.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    /// Number: `lo`/`hi` bound the implicit (eq/ne) or approximate (ap) range.
    Number {
        prefix: Prefix,
        value: Dec,
        lo: Dec,
        hi: Dec,
    },
    Date {
        prefix: Prefix,
        range: Range,
    },
    Quantity {
        prefix: Prefix,
        value: Dec,
        lo: Dec,
        hi: Dec,
        system: Option<String>,
        code: Option<String>,
    },
    /// `code: None` for `system|`.
    Token {
        system: TokSys,
        code: Option<String>,
    },
    /// `:text` (folded).
    Text(String),
    /// `:of-type` `system|code|value`.
    OfType {
        system: String,
        code: String,
        value: String,
    },
    /// String search value (folded unless `:exact`).
    Str(String),
    /// A local reference; `ty` None for a bare id.
    RefLocal {
        ty: Option<String>,
        id: String,
    },
    /// An absolute or canonical URL.
    RefUrl(String),
    Uri(String),
}

#[derive(Debug, Clone)]
pub(crate) enum Test {
    Missing(bool),
    /// Any item matches any value (`negate` for `:not`: none does).
    Any {
        negate: bool,
        values: Vec<Val>,
    },
}

/// One AND-ed filter: a parameter, its modifier and its OR-ed values.
#[derive(Debug, Clone)]
pub struct Filter {
    pub(crate) param: &'static SearchParamDef,
    pub(crate) modifier: Option<Modifier>,
    pub(crate) test: Test,
    pub(crate) raw: Vec<String>,
}

impl Filter {
    pub fn param(&self) -> &'static SearchParamDef {
        self.param
    }

    pub fn modifier(&self) -> Option<&Modifier> {
        self.modifier.as_ref()
    }

    /// `Some(true)` for `:missing=true`, `Some(false)` for `:missing=false`.
    pub fn missing(&self) -> Option<bool> {
        match self.test {
            Test::Missing(m) => Some(m),
            Test::Any { .. } => None,
        }
    }

    /// The OR-ed values, split and unescaped (prefixes kept).
    pub fn raw_values(&self) -> &[String] {
        &self.raw
    }
}

/// A parsed search: AND-ed filters plus result controls.
#[derive(Debug, Clone)]
pub struct Criteria {
    pub resource_type: String,
    pub filters: Vec<Filter>,
    pub count: Option<u32>,
    pub sort: Vec<SortSpec>,
    pub summary: Option<Summary>,
    /// `_elements`: top-level element names (no `[x]`, type prefix removed).
    pub elements: Option<Vec<String>>,
    pub include: Vec<Include>,
    pub revinclude: Vec<Include>,
    pub total: Option<Total>,
    /// Names of the parameters ignored under lenient handling (with modifiers,
    /// as given), including parameters with an empty value.
    pub ignored: Vec<String>,
    /// The pairs named in [`ParseOptions::passthrough`], in order.
    pub passthrough: Vec<(String, String)>,
    /// The pairs that were applied (filters and result controls), in order:
    /// what a self link should carry.
    pub applied: Vec<(String, String)>,
}
