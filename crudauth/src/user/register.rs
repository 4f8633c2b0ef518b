//! The registration schema: the extra columns of the user entity a client
//! may set at `/register` (read through the entity's column types), and the
//! application's hook that sets server-side values on every new user.

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::Arc;

use sea_orm::sea_query::ColumnType;
use sea_orm::{ColumnDef, Value};
use serde_json::Value as Json;

/// Who a new user is, as the [`new_user`](crate::CrudAuthBuilder::new_user)
/// hook sees them.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct NewUser<'a> {
    /// The email address, if the account has one.
    pub email: Option<&'a str>,
    /// The username, if the account has one.
    pub username: Option<&'a str>,
}

/// The `new_user` hook, taking the entity's `ActiveModel` as `Any` so that
/// the type-erased store can call it; [`Self::model`] is the type it
/// expects, checked against the user model at build.
#[derive(Clone)]
pub(crate) struct NewUserHook {
    pub model: TypeId,
    pub call: Arc<HookFn>,
}

type HookFn = dyn Fn(&NewUser<'_>, &mut dyn Any) + Send + Sync;

impl fmt::Debug for NewUserHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUserHook").finish_non_exhaustive()
    }
}

impl NewUserHook {
    pub(crate) fn new<A: Any>(hook: impl Fn(&NewUser<'_>, &mut A) + Send + Sync + 'static) -> Self {
        Self {
            model: TypeId::of::<A>(),
            call: Arc::new(move |user, model| {
                if let Some(model) = model.downcast_mut::<A>() {
                    hook(user, model);
                }
            }),
        }
    }
}

/// A value a client sent for an allowed column that the column cannot
/// hold: the 422 names the field and says what it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub field: String,
    pub expected: &'static str,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: must be {}", self.field, self.expected)
    }
}

/// What a client may send for a column of this type, or `None` when a JSON
/// value cannot be read into it (such a column cannot be allowlisted).
pub(crate) fn expected(column: &ColumnDef) -> Option<&'static str> {
    Some(match column.get_column_type() {
        ColumnType::Char(_) | ColumnType::String(_) | ColumnType::Text => "a string",
        ColumnType::TinyInteger
        | ColumnType::SmallInteger
        | ColumnType::Integer
        | ColumnType::BigInteger
        | ColumnType::TinyUnsigned
        | ColumnType::SmallUnsigned
        | ColumnType::Unsigned
        | ColumnType::BigUnsigned => "an integer in range",
        ColumnType::Float | ColumnType::Double => "a number",
        ColumnType::Boolean => "true or false",
        ColumnType::Json | ColumnType::JsonBinary => "JSON",
        ColumnType::Uuid => "a UUID string",
        ColumnType::Date => "a date string (YYYY-MM-DD)",
        _ => return None,
    })
}

/// The JSON schema of what [`read`] accepts for `column`; `None` for a
/// column it cannot read.
#[cfg(feature = "openapi")]
pub(crate) fn json_schema(column: &ColumnDef) -> Option<Json> {
    let integer = |min: i64, max: u64| serde_json::json!({ "type": "integer", "minimum": min, "maximum": max });
    let no_nul = r"^[^\x00]*$";
    let mut schema = match column.get_column_type() {
        ColumnType::Char(_) | ColumnType::String(_) | ColumnType::Text => {
            serde_json::json!({ "type": "string", "pattern": no_nul })
        }
        ColumnType::TinyInteger => integer(i8::MIN.into(), i8::MAX as u64),
        ColumnType::SmallInteger => integer(i16::MIN.into(), i16::MAX as u64),
        ColumnType::Integer => integer(i32::MIN.into(), i32::MAX as u64),
        ColumnType::BigInteger => integer(i64::MIN, i64::MAX as u64),
        ColumnType::TinyUnsigned => integer(0, u8::MAX.into()),
        ColumnType::SmallUnsigned => integer(0, u16::MAX.into()),
        ColumnType::Unsigned => integer(0, u32::MAX.into()),
        ColumnType::BigUnsigned => integer(0, u64::MAX),
        ColumnType::Float | ColumnType::Double => serde_json::json!({ "type": "number" }),
        ColumnType::Boolean => serde_json::json!({ "type": "boolean" }),
        ColumnType::Json | ColumnType::JsonBinary => serde_json::json!({
            "description": "Any JSON value, without NUL characters in its strings.",
        }),
        ColumnType::Uuid => serde_json::json!({ "type": "string", "format": "uuid" }),
        ColumnType::Date => serde_json::json!({ "type": "string", "format": "date" }),
        _ => return None,
    };
    if let Some(kind) = schema.get("type").cloned() {
        if column.is_null() {
            schema["type"] = serde_json::json!([kind, "null"]);
        }
    } else if !column.is_null() {
        schema["not"] = serde_json::json!({ "type": "null" });
    }
    Some(schema)
}

/// Reads `json` as a value of `column`'s type: a null only for a nullable
/// column, a number only for a numeric column and within its range, and so
/// on. `Err` holds what the column takes.
pub(crate) fn read(column: &ColumnDef, json: &Json) -> Result<Value, &'static str> {
    let expected = expected(column).ok_or("of a type crudauth cannot read")?;
    let column_type = column.get_column_type();
    if json.is_null() {
        return match (column.is_null(), null_of(column_type)) {
            (true, Some(null)) => Ok(null),
            _ => Err(expected),
        };
    }
    // PostgreSQL's text and JSON cannot hold a NUL character: refused on
    // every backend alike, rather than failing at the insert. (Other
    // columns never store the string they are sent.)
    let nul_refusal = match column_type {
        ColumnType::Char(_) | ColumnType::String(_) | ColumnType::Text => {
            Some("a string without NUL characters")
        }
        ColumnType::Json | ColumnType::JsonBinary => Some("JSON without NUL characters"),
        _ => None,
    };
    if let Some(refusal) = nul_refusal
        && holds_nul(json)
    {
        return Err(refusal);
    }
    let int = || json.as_i64();
    let uint = || json.as_u64();
    let value = match column_type {
        ColumnType::Char(_) | ColumnType::String(_) | ColumnType::Text => {
            json.as_str().map(|s| Value::String(Some(s.to_owned())))
        }
        ColumnType::TinyInteger => int().and_then(|n| i8::try_from(n).ok()).map(Value::from),
        ColumnType::SmallInteger => int().and_then(|n| i16::try_from(n).ok()).map(Value::from),
        ColumnType::Integer => int().and_then(|n| i32::try_from(n).ok()).map(Value::from),
        ColumnType::BigInteger => int().map(Value::from),
        ColumnType::TinyUnsigned => uint().and_then(|n| u8::try_from(n).ok()).map(Value::from),
        ColumnType::SmallUnsigned => uint().and_then(|n| u16::try_from(n).ok()).map(Value::from),
        ColumnType::Unsigned => uint().and_then(|n| u32::try_from(n).ok()).map(Value::from),
        ColumnType::BigUnsigned => uint().map(Value::from),
        ColumnType::Float => json.as_f64().map(|n| Value::from(n as f32)),
        ColumnType::Double => json.as_f64().map(Value::from),
        ColumnType::Boolean => json.as_bool().map(Value::from),
        ColumnType::Json | ColumnType::JsonBinary => {
            Some(Value::Json(Some(Box::new(json.clone()))))
        }
        ColumnType::Uuid => json
            .as_str()
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
            .map(Value::from),
        ColumnType::Date => json
            .as_str()
            .and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            .map(Value::from),
        _ => None,
    };
    value.ok_or(expected)
}

/// Whether a string anywhere in `json` (a key too) holds a NUL character.
fn holds_nul(json: &Json) -> bool {
    match json {
        Json::String(s) => s.contains('\0'),
        Json::Array(items) => items.iter().any(holds_nul),
        Json::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// The typed null a nullable column of this type is set to.
fn null_of(column_type: &ColumnType) -> Option<Value> {
    Some(match column_type {
        ColumnType::Char(_) | ColumnType::String(_) | ColumnType::Text => Value::String(None),
        ColumnType::TinyInteger => Value::TinyInt(None),
        ColumnType::SmallInteger => Value::SmallInt(None),
        ColumnType::Integer => Value::Int(None),
        ColumnType::BigInteger => Value::BigInt(None),
        ColumnType::TinyUnsigned => Value::TinyUnsigned(None),
        ColumnType::SmallUnsigned => Value::SmallUnsigned(None),
        ColumnType::Unsigned => Value::Unsigned(None),
        ColumnType::BigUnsigned => Value::BigUnsigned(None),
        ColumnType::Float => Value::Float(None),
        ColumnType::Double => Value::Double(None),
        ColumnType::Boolean => Value::Bool(None),
        ColumnType::Json | ColumnType::JsonBinary => Value::Json(None),
        ColumnType::Uuid => Value::Uuid(None),
        ColumnType::Date => Value::ChronoDate(None),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use sea_orm::ColumnTypeTrait;
    use serde_json::json;

    use super::*;

    #[cfg(feature = "openapi")]
    #[test]
    fn the_schema_says_what_read_accepts() {
        let small = ColumnType::SmallInteger.def();
        assert_eq!(
            json_schema(&small),
            Some(json!({ "type": "integer", "minimum": -32768, "maximum": 32767 }))
        );
        assert!(read(&small, &json!(32767)).is_ok() && read(&small, &json!(32768)).is_err());
        assert_eq!(
            json_schema(&ColumnType::Uuid.def().null()),
            Some(json!({ "type": ["string", "null"], "format": "uuid" }))
        );
        let document = json_schema(&ColumnType::Json.def()).unwrap();
        assert_eq!(document["not"], json!({ "type": "null" }));
        assert!(read(&ColumnType::Json.def(), &json!(null)).is_err());
        assert_eq!(json_schema(&ColumnType::Binary(4).def()), None);
    }

    #[test]
    fn values_are_read_as_the_column_type_says() {
        let text = ColumnType::Text.def().null();
        assert_eq!(
            read(&text, &json!("Ada")),
            Ok(Value::String(Some("Ada".into())))
        );
        assert_eq!(read(&text, &json!(null)), Ok(Value::String(None)));
        assert_eq!(read(&text, &json!(42)), Err("a string"));
        let int = ColumnType::Integer.def();
        assert_eq!(read(&int, &json!(7)), Ok(Value::Int(Some(7))));
        assert_eq!(read(&int, &json!(null)), Err("an integer in range"));
        assert_eq!(read(&int, &json!(1u64 << 40)), Err("an integer in range"));
        assert_eq!(read(&int, &json!("7")), Err("an integer in range"));
        assert_eq!(
            read(&ColumnType::Boolean.def(), &json!(true)),
            Ok(Value::Bool(Some(true)))
        );
        assert!(read(&ColumnType::Date.def(), &json!("2024-02-30")).is_err());
        assert_eq!(
            read(&text, &json!("A\u{0}da")),
            Err("a string without NUL characters")
        );
        let document = ColumnType::JsonBinary.def();
        assert!(read(&document, &json!({ "a": ["b"] })).is_ok());
        assert_eq!(read(&int, &json!("7\u{0}")), Err("an integer in range"));
        for nul in [json!({ "a": ["b\u{0}"] }), json!({ "a\u{0}": 1 })] {
            assert_eq!(read(&document, &nul), Err("JSON without NUL characters"));
        }
        assert!(read(&ColumnType::Binary(4).def(), &json!("x")).is_err());
    }
}
