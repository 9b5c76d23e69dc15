//! Values with their location. [`Sp`] wraps anything (an array, a table) with the place it was
//! written; [`Leaf`] holds a scalar exactly as written, to be converted to its typed form by
//! validation, which can then explain a bad value in the words of the key it belongs to.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

use super::de::{SP_FIELDS, SP_NAME};
use super::source::{Diag, Diags, FileId, Loc};

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sp<T> {
    pub value: T,
    pub loc: Loc,
}

impl<T> std::ops::Deref for Sp<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sp<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SpVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for SpVisitor<T> {
            type Value = Sp<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a located value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Sp<T>, A::Error> {
                let mut nums = [0u64; 3];
                for n in nums.iter_mut() {
                    map.next_key::<de::IgnoredAny>()?;
                    *n = map.next_value()?;
                }
                map.next_key::<de::IgnoredAny>()?;
                let value = map.next_value()?;
                Ok(Sp {
                    value,
                    loc: Loc {
                        file: FileId(nums[0] as u32),
                        start: nums[1] as usize,
                        end: nums[2] as usize,
                    },
                })
            }
        }
        d.deserialize_struct(SP_NAME, SP_FIELDS, SpVisitor(PhantomData))
    }
}

impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        T::json_schema(g)
    }
}

/// A scalar as the file wrote it. Arrays and tables are only named, so that a table written
/// where a number belongs is reported as such rather than failing the whole section.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Array,
    Table,
}

impl Scalar {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Scalar::Str(_) => "a string",
            Scalar::Int(_) => "an integer",
            Scalar::Float(_) => "a float",
            Scalar::Bool(_) => "a boolean",
            Scalar::Array => "an array",
            Scalar::Table => "a table",
        }
    }

    /// "a string `eth0`": the kind and the text, for messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Scalar::Str(s) => format!("\"{s}\""),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(x) => x.to_string(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Array | Scalar::Table => self.kind().to_string(),
        }
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar::Str(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar::Int(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Scalar, A::Error> {
                while a.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Scalar::Array)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Scalar, A::Error> {
                while a.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
                Ok(Scalar::Table)
            }
        }
        d.deserialize_any(V)
    }
}

/// How a scalar becomes a typed value of kind `Self::Out`, and what the schema says of it.
pub(crate) trait LeafType {
    type Out;
    /// What a correct value looks like, for "expected …" messages.
    fn expected() -> Cow<'static, str>;
    /// `Err(None)` for a value of the wrong kind (reported with [`LeafType::expected`]),
    /// `Err(Some(msg))` for the right kind with a bad value.
    fn parse(s: &Scalar) -> Result<Self::Out, Option<String>>;
    /// The accepted words, when the value is one of a fixed set (for "did you mean").
    fn names() -> Vec<&'static str> {
        Vec::new()
    }
}

/// A scalar with its location, typed by `T` (which gives both the conversion and the schema).
pub(crate) struct Leaf<T> {
    pub raw: Sp<Scalar>,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Leaf<T> {
    fn clone(&self) -> Self {
        Leaf {
            raw: self.raw.clone(),
            _t: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Leaf<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.raw.value.fmt(f)
    }
}

impl<'de, T> Deserialize<'de> for Leaf<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Leaf {
            raw: Sp::deserialize(d)?,
            _t: PhantomData,
        })
    }
}

impl<T: JsonSchema> JsonSchema for Leaf<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        T::json_schema(g)
    }
}

impl<T: LeafType> Leaf<T> {
    pub(crate) fn loc(&self) -> Loc {
        self.raw.loc
    }

    /// The typed value if it is valid, recording nothing (its own check reports it).
    pub(crate) fn peek(&self) -> Option<T::Out> {
        T::parse(&self.raw.value).ok()
    }

    /// The typed value, or `None` with the reason recorded in `diags`.
    pub(crate) fn get(&self, key: &str, diags: &mut Diags) -> Option<T::Out> {
        match T::parse(&self.raw.value) {
            Ok(v) => Some(v),
            Err(msg) => {
                let msg = msg.unwrap_or_else(|| {
                    format!(
                        "`{key}` must be {}, found {} {}",
                        T::expected(),
                        self.raw.value.kind(),
                        self.raw.value.describe()
                    )
                });
                let mut diag = Diag::error(self.raw.loc, msg);
                if let Scalar::Str(v) = &self.raw.value
                    && let Some(s) = super::de::suggest(v, &T::names())
                {
                    diag = diag.with_help(format!("did you mean \"{s}\"?"));
                }
                diags.push(diag);
                None
            }
        }
    }
}

impl Leaf<i64> {
    /// An integer within `lo..=hi`, converted to the target type.
    pub(crate) fn int_in<N: TryFrom<i64>>(
        &self,
        key: &str,
        lo: i64,
        hi: i64,
        diags: &mut Diags,
    ) -> Option<N> {
        let n = self.get(key, diags)?;
        if n < lo || n > hi {
            diags.error(
                self.loc(),
                format!("`{key}` = {n} is out of range: expected {lo} to {hi}"),
            );
            return None;
        }
        N::try_from(n).ok()
    }
}

/// Reads an optional leaf, records its error, and falls back to a default.
pub(crate) fn opt<T: LeafType>(
    leaf: &Option<Leaf<T>>,
    key: &str,
    diags: &mut Diags,
) -> Option<T::Out> {
    leaf.as_ref().and_then(|l| l.get(key, diags))
}

/// Types that are one TOML scalar kind as they are.
macro_rules! leaf_scalar {
    ($t:ty, $variant:ident, $expected:literal) => {
        impl LeafType for $t {
            type Out = $t;
            fn expected() -> Cow<'static, str> {
                $expected.into()
            }
            fn parse(s: &Scalar) -> Result<$t, Option<String>> {
                match s {
                    Scalar::$variant(v) => Ok(v.clone()),
                    _ => Err(None),
                }
            }
        }
    };
}

leaf_scalar!(String, Str, "a string");
leaf_scalar!(bool, Bool, "true or false");
leaf_scalar!(i64, Int, "an integer");

/// Types read from a string with `FromStr`: addresses and the like.
macro_rules! leaf_from_str {
    ($t:ty, $expected:expr) => {
        impl LeafType for $t {
            type Out = $t;
            fn expected() -> Cow<'static, str> {
                $expected.into()
            }
            fn parse(s: &Scalar) -> Result<$t, Option<String>> {
                match s {
                    Scalar::Str(v) => v.parse::<$t>().map_err(|_| None),
                    _ => Err(None),
                }
            }
        }
    };
}

leaf_from_str!(
    std::net::SocketAddr,
    "an address with a port, such as \"10.0.0.1:80\" or \"[2001:db8::1]:80\""
);
leaf_from_str!(
    std::net::IpAddr,
    "an IP address, such as \"10.0.0.1\" or \"2001:db8::1\""
);

/// An optional leaf's value, its error reported where it is wrong.
pub(crate) fn opt_leaf<T: LeafType>(
    leaf: Option<&Leaf<T>>,
    key: &str,
    d: &mut Diags,
) -> Option<T::Out> {
    leaf.and_then(|l| l.get(key, d))
}
