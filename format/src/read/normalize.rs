//! Types as ordinary tools write them, brought to the documented ones:
//! dictionary-encoded, large and view strings become `Utf8`; timestamps in
//! ms, µs or ns (UTC) become seconds (floor); any integer width that fits
//! becomes the documented width; `LargeList` becomes `List`; `Float32`
//! becomes `Float64`; struct fields are matched by name. Anything else is
//! refused with the column's path, its type and the type expected.

use arrow_array::{
    Array, ArrayRef, LargeListArray, ListArray, RecordBatch, StructArray, TimestampSecondArray,
};
use arrow_buffer::OffsetBuffer;
use arrow_cast::{cast_with_options, CastOptions};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use std::sync::Arc;

/// Brings `batch` to `expected`: every expected column present once (one of
/// `optional` may be absent: it becomes a column of nulls), no other column, each of an accepted type. The result has `expected`'s types
/// with every field nullable: nulls where the format forbids them are
/// reported by the typed decoders, which know the row.
pub fn batch(
    batch: &RecordBatch,
    expected: &Schema,
    optional: &[&str],
) -> Result<RecordBatch, String> {
    let expected = &Schema::new(
        expected
            .fields()
            .iter()
            .map(|f| relaxed(f))
            .collect::<Vec<_>>(),
    );
    let actual = batch.schema();
    let mut names: Vec<&str> = actual.fields().iter().map(|f| f.name().as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!(
            "column `{}` appears twice; expected each column once",
            w[0]
        ));
    }
    for a in actual.fields() {
        if expected.field_with_name(a.name()).is_err() {
            return Err(format!(
                "unexpected column `{}`; this format has exactly the columns its documentation lists",
                a.name()
            ));
        }
    }
    let mut columns = Vec::with_capacity(expected.fields().len());
    for f in expected.fields() {
        let Some(i) = actual.fields().iter().position(|a| a.name() == f.name()) else {
            if optional.contains(&f.name().as_str()) {
                columns.push(arrow_array::new_null_array(f.data_type(), batch.num_rows()));
                continue;
            }
            return Err(format!(
                "missing column `{}` (expected {})",
                f.name(),
                f.data_type()
            ));
        };
        columns.push(array(batch.column(i), f.data_type(), f.name())?);
    }
    RecordBatch::try_new(Arc::new(expected.clone()), columns)
        .map_err(|e| format!("columns do not fit the format: {e}"))
}

/// `f` with itself and every nested field nullable.
fn relaxed(f: &Field) -> Field {
    let dt = match f.data_type() {
        DataType::List(item) => DataType::List(Arc::new(relaxed(item))),
        DataType::Struct(fields) => {
            DataType::Struct(fields.iter().map(|f| relaxed(f)).collect::<Vec<_>>().into())
        }
        other => other.clone(),
    };
    Field::new(f.name(), dt, true)
}

fn strict() -> CastOptions<'static> {
    CastOptions {
        safe: false,
        ..Default::default()
    }
}

fn refuse(path: &str, actual: &DataType, expected: &DataType) -> String {
    format!("column `{path}` has type {actual}; expected {expected}")
}

/// Brings one array (at column path `path`) to type `expected`.
pub fn array(a: &ArrayRef, expected: &DataType, path: &str) -> Result<ArrayRef, String> {
    let actual = a.data_type();
    if let DataType::Dictionary(_, value) = actual {
        let plain = cast_with_options(a, value, &strict())
            .map_err(|e| format!("column `{path}`: cannot decode its dictionary: {e}"))?;
        return array(&plain, expected, path);
    }
    match expected {
        DataType::List(item) => list(a, item, path),
        DataType::Struct(fields) => {
            let Some(s) = a.as_any().downcast_ref::<StructArray>() else {
                return Err(refuse(path, actual, expected));
            };
            let DataType::Struct(actual_fields) = actual else {
                return Err(refuse(path, actual, expected));
            };
            let mut names: Vec<&str> = actual_fields.iter().map(|f| f.name().as_str()).collect();
            names.sort_unstable();
            if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
                return Err(format!("column `{path}` has field `{}` twice", w[0]));
            }
            if actual_fields.len() != fields.len() {
                return Err(refuse(path, actual, expected));
            }
            let mut children = Vec::with_capacity(fields.len());
            for f in fields.iter() {
                let Some(i) = actual_fields.iter().position(|x| x.name() == f.name()) else {
                    return Err(format!(
                        "column `{path}` has no field `{}` (expected {expected})",
                        f.name()
                    ));
                };
                children.push(array(
                    s.column(i),
                    f.data_type(),
                    &format!("{path}.{}", f.name()),
                )?);
            }
            StructArray::try_new(fields.clone(), children, s.nulls().cloned())
                .map(|s| Arc::new(s) as ArrayRef)
                .map_err(|e| format!("column `{path}`: {e}"))
        }
        DataType::Utf8 => match actual {
            DataType::Utf8 => Ok(a.clone()),
            DataType::LargeUtf8 | DataType::Utf8View => cast_with_options(a, expected, &strict())
                .map_err(|e| format!("column `{path}`: {e}")),
            _ => Err(refuse(path, actual, expected)),
        },
        DataType::Int64 | DataType::Int32 => match actual {
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64 => cast_with_options(a, expected, &strict())
                .map_err(|e| format!("column `{path}`: a value does not fit {expected}: {e}")),
            _ => Err(refuse(path, actual, expected)),
        },
        DataType::Float64 => match actual {
            DataType::Float64 => Ok(a.clone()),
            DataType::Float32 => cast_with_options(a, expected, &strict())
                .map_err(|e| format!("column `{path}`: {e}")),
            _ => Err(refuse(path, actual, expected)),
        },
        DataType::Timestamp(TimeUnit::Second, _) => timestamp(a, path, expected),
        other if actual == other => Ok(a.clone()),
        _ => Err(refuse(path, actual, expected)),
    }
}

fn list(a: &ArrayRef, item: &Arc<Field>, path: &str) -> Result<ArrayRef, String> {
    let expected = DataType::List(item.clone());
    let item_path = format!("{path}[]");
    if let Some(l) = a.as_any().downcast_ref::<ListArray>() {
        let values = array(l.values(), item.data_type(), &item_path)?;
        return ListArray::try_new(
            item.clone(),
            l.offsets().clone(),
            values,
            l.nulls().cloned(),
        )
        .map(|l| Arc::new(l) as ArrayRef)
        .map_err(|e| format!("column `{path}`: {e}"));
    }
    if let Some(l) = a.as_any().downcast_ref::<LargeListArray>() {
        let values = array(l.values(), item.data_type(), &item_path)?;
        let offsets: Vec<i32> = l
            .offsets()
            .iter()
            .map(|&o| i32::try_from(o))
            .collect::<Result<_, _>>()
            .map_err(|_| format!("column `{path}`: list offsets beyond 2^31"))?;
        let offsets = OffsetBuffer::new(offsets.into());
        return ListArray::try_new(item.clone(), offsets, values, l.nulls().cloned())
            .map(|l| Arc::new(l) as ArrayRef)
            .map_err(|e| format!("column `{path}`: {e}"));
    }
    Err(refuse(path, a.data_type(), &expected))
}

fn timestamp(a: &ArrayRef, path: &str, expected: &DataType) -> Result<ArrayRef, String> {
    let DataType::Timestamp(unit, tz) = a.data_type() else {
        return Err(refuse(path, a.data_type(), expected));
    };
    if !tz
        .as_deref()
        .is_some_and(|t| matches!(t, "UTC" | "+00:00" | "Z" | "Etc/UTC"))
    {
        return Err(format!(
            "column `{path}` has type {}; expected UTC timestamps (a time zone of UTC: with pandas, `.dt.tz_localize(\"UTC\")`)",
            a.data_type()
        ));
    }
    let per_second: i64 = match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    };
    let as_i64 = cast_with_options(a, &DataType::Int64, &strict())
        .map_err(|e| format!("column `{path}`: {e}"))?;
    let v = as_i64
        .as_any()
        .downcast_ref::<arrow_array::Int64Array>()
        .expect("cast to Int64");
    let secs: TimestampSecondArray = v
        .iter()
        .map(|x| x.map(|x| x.div_euclid(per_second)))
        .collect();
    Ok(Arc::new(secs.with_timezone("UTC")))
}
