//! `jv!`: `serde_json::json!` for building dashboards, without its deep copies.
//!
//! `json!` turns every interpolated expression into a `Value` with `to_value(&expr)`, which
//! runs the whole serializer over it — for a nested panel `Value` that is a full deep copy.
//! On 1,000 flows that copying was ~30 % of `generate` (perf). `jv!` has the same syntax for
//! what this crate writes (objects with literal keys, arrays, `null`, expressions) and moves
//! each expression in through [`IntoJv`]: a `Value` is moved, not re-serialized.

use serde_json::{Map, Number, Value};

/// Conversion of a `jv!` leaf into a `Value`, by move where possible.
pub trait IntoJv {
    /// The JSON value.
    fn into_jv(self) -> Value;
}

impl IntoJv for Value {
    fn into_jv(self) -> Value {
        self
    }
}
impl IntoJv for Map<String, Value> {
    fn into_jv(self) -> Value {
        Value::Object(self)
    }
}
impl IntoJv for &str {
    fn into_jv(self) -> Value {
        Value::String(self.to_owned())
    }
}
impl IntoJv for String {
    fn into_jv(self) -> Value {
        Value::String(self)
    }
}
impl IntoJv for bool {
    fn into_jv(self) -> Value {
        Value::Bool(self)
    }
}
macro_rules! ints {
    ($($t:ty),*) => {$(
        impl IntoJv for $t {
            fn into_jv(self) -> Value {
                Value::Number(Number::from(self))
            }
        }
    )*};
}
ints!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);
impl IntoJv for f64 {
    /// As `serde_json::to_value`: a non-finite number is `null`.
    fn into_jv(self) -> Value {
        Number::from_f64(self).map_or(Value::Null, Value::Number)
    }
}
impl<T: IntoJv> IntoJv for Option<T> {
    fn into_jv(self) -> Value {
        self.map_or(Value::Null, IntoJv::into_jv)
    }
}
impl<T: IntoJv> IntoJv for Vec<T> {
    fn into_jv(self) -> Value {
        Value::Array(self.into_iter().map(IntoJv::into_jv).collect())
    }
}
/// A borrowed leaf is cloned (only leaves: strings, numbers, small values).
impl<T: IntoJv + Clone> IntoJv for &T {
    fn into_jv(self) -> Value {
        self.clone().into_jv()
    }
}

/// An empty array for `jv!` to fill (a function, so clippy's vec-init-then-push lint does
/// not see through the macro).
#[doc(hidden)]
pub fn array() -> Vec<Value> {
    Vec::new()
}

/// Builds a `serde_json::Value` like `json!`, moving interpolated values in.
#[macro_export]
macro_rules! jv {
    // Arrays: elements separated by commas, an optional trailing comma.
    (@array $v:ident) => {};
    (@array $v:ident null $(, $($rest:tt)*)?) => {
        $v.push(::serde_json::Value::Null); $($crate::jv!(@array $v $($rest)*);)?
    };
    (@array $v:ident [ $($a:tt)* ] $(, $($rest:tt)*)?) => {
        $v.push($crate::jv!([ $($a)* ])); $($crate::jv!(@array $v $($rest)*);)?
    };
    (@array $v:ident { $($o:tt)* } $(, $($rest:tt)*)?) => {
        $v.push($crate::jv!({ $($o)* })); $($crate::jv!(@array $v $($rest)*);)?
    };
    (@array $v:ident $e:expr $(, $($rest:tt)*)?) => {
        $v.push($crate::jv!($e)); $($crate::jv!(@array $v $($rest)*);)?
    };

    // Objects: "literal key": value pairs, an optional trailing comma.
    (@object $m:ident) => {};
    (@object $m:ident $k:literal : null $(, $($rest:tt)*)?) => {
        $m.insert(::std::string::String::from($k), ::serde_json::Value::Null);
        $($crate::jv!(@object $m $($rest)*);)?
    };
    (@object $m:ident $k:literal : [ $($a:tt)* ] $(, $($rest:tt)*)?) => {
        $m.insert(::std::string::String::from($k), $crate::jv!([ $($a)* ]));
        $($crate::jv!(@object $m $($rest)*);)?
    };
    (@object $m:ident $k:literal : { $($o:tt)* } $(, $($rest:tt)*)?) => {
        $m.insert(::std::string::String::from($k), $crate::jv!({ $($o)* }));
        $($crate::jv!(@object $m $($rest)*);)?
    };
    (@object $m:ident $k:literal : $e:expr $(, $($rest:tt)*)?) => {
        $m.insert(::std::string::String::from($k), $crate::jv!($e));
        $($crate::jv!(@object $m $($rest)*);)?
    };

    // Values.
    (null) => { ::serde_json::Value::Null };
    ([]) => { ::serde_json::Value::Array(::std::vec::Vec::new()) };
    ([ $($tt:tt)+ ]) => {{
        let mut v = $crate::jv::array();
        $crate::jv!(@array v $($tt)+);
        ::serde_json::Value::Array(v)
    }};
    ({}) => { ::serde_json::Value::Object(::serde_json::Map::new()) };
    ({ $($tt:tt)+ }) => {{
        let mut m = ::serde_json::Map::new();
        $crate::jv!(@object m $($tt)+);
        ::serde_json::Value::Object(m)
    }};
    ($e:expr) => { $crate::jv::IntoJv::into_jv($e) };
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn same_values_as_json_macro() {
        let inner = json!({"a": [1, 2, {"b": null}]});
        let s = String::from("x");
        let opt: Option<f64> = None;
        let steps = [("green", None), ("red", Some(80.0))];
        // The same tokens through both macros.
        macro_rules! both {
            ($($t:tt)*) => { (jv!($($t)*), json!($($t)*)) };
        }
        let (got, want) = both!({
            "inner": inner.clone(),
            "borrowed": &inner,
            "s": s.clone(),
            "r": &s,
            "lit": "text",
            "n": 7u32,
            "neg": -3i64,
            "f": 0.5,
            "nan": f64::NAN,
            "none": opt,
            "null": null,
            "t": true,
            "if": if s.is_empty() { "empty" } else { "full" },
            "arr": [1, "two", null, {"k": [true]}, [], {}],
            "steps": steps.iter().map(|(c, v)| jv!({"color": c, "value": v})).collect::<Vec<_>>(),
            "empty": {},
        });
        assert_eq!(got, want);
        assert_eq!(
            serde_json::to_string_pretty(&got).ok(),
            serde_json::to_string_pretty(&want).ok()
        );
    }
}
