//! Field checks for records read from elsewhere than the local files (the Hub's
//! Parquet rows): a task's `hub_row` says which fields it needs, of which kind,
//! and gets errors naming the field.

use anyhow::anyhow;
use serde_json::{Map, Value};

/// The JSON kind a field must have.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Str,
    Int,
    Strs,
    Ints,
    /// An object; the text names its members, e.g. `{text, label}`.
    Object(&'static str),
}

impl Kind {
    fn accepts(self, v: &Value) -> bool {
        let int = |x: &Value| x.is_i64() || x.is_u64();
        match self {
            Kind::Str => v.is_string(),
            Kind::Int => int(v),
            Kind::Strs => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
            Kind::Ints => v.as_array().is_some_and(|a| a.iter().all(int)),
            Kind::Object(_) => v.is_object(),
        }
    }

    fn describe(self) -> String {
        match self {
            Kind::Str => "a string".into(),
            Kind::Int => "an integer".into(),
            Kind::Strs => "a list of strings".into(),
            Kind::Ints => "a list of integers".into(),
            Kind::Object(members) => format!("an object {members}"),
        }
    }
}

/// Error unless `m` has `field` of kind `kind`.
pub fn need(m: &Map<String, Value>, field: &str, kind: Kind) -> anyhow::Result<()> {
    match m.get(field) {
        None => Err(anyhow!("missing field `{field}`")),
        Some(v) if !kind.accepts(v) => Err(anyhow!(
            "field `{field}`: expected {}, got {v}",
            kind.describe()
        )),
        Some(_) => Ok(()),
    }
}

/// [`need`] for each of `fields`.
pub fn need_all(m: &Map<String, Value>, fields: &[&str], kind: Kind) -> anyhow::Result<()> {
    fields.iter().try_for_each(|f| need(m, f, kind))
}

/// The object member `field` of `m`, checked to be an object.
pub fn object<'a>(
    m: &'a Map<String, Value>,
    field: &str,
    members: &'static str,
) -> anyhow::Result<&'a Map<String, Value>> {
    need(m, field, Kind::Object(members))?;
    Ok(m[field].as_object().expect("checked to be an object"))
}
