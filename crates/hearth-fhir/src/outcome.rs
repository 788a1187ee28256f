//! Builds R4 `OperationOutcome` resources (<https://hl7.org/fhir/R4/operationoutcome.html>)
//! from validation issues.

use serde_json::{Map, Value, json};

use crate::issue::Issue;

/// An OperationOutcome with one `issue` per validation issue (severity, code,
/// diagnostics = message, expression = [path]). With no issues it holds a single
/// informational "all ok" issue, since `OperationOutcome.issue` is required.
pub fn operation_outcome(issues: &[Issue]) -> Value {
    let list: Vec<Value> = if issues.is_empty() {
        vec![json!({"severity": "information", "code": "informational", "diagnostics": "All OK"})]
    } else {
        issues
            .iter()
            .map(|i| {
                let mut o = Map::new();
                o.insert("severity".into(), Value::String(i.severity.code().into()));
                o.insert("code".into(), Value::String(i.code.code().into()));
                o.insert("diagnostics".into(), Value::String(i.message.clone()));
                if !i.path.is_empty() {
                    o.insert(
                        "expression".into(),
                        Value::Array(vec![Value::String(i.path.clone())]),
                    );
                }
                Value::Object(o)
            })
            .collect()
    };
    json!({"resourceType": "OperationOutcome", "issue": list})
}
