//! Values written as one line of text in the configuration, the way another tool takes them
//! (`ip address`, `ip route`, `ip rule`): parsed by their `FromStr`, written back by their
//! `Display`, described to the JSON Schema as strings.

/// Declares, for a type with `FromStr<Err = String>` and `Display`: its `Serialize` (as text),
/// and `$spec`, its [`super::leaf::LeafType`] and schema, errors naming `$key`.
macro_rules! text_value {
    ($ty:ty, $spec:ident, $key:literal, $what:literal, $example:literal) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        /// The configuration type of one entry of the list.
        pub(crate) struct $spec;

        impl super::leaf::LeafType for $spec {
            type Out = $ty;
            fn expected() -> std::borrow::Cow<'static, str> {
                concat!($what, " such as \"", $example, "\"").into()
            }
            fn parse(s: &super::leaf::Scalar) -> Result<$ty, Option<String>> {
                match s {
                    super::leaf::Scalar::Str(v) => v.parse().map_err(|e: String| {
                        Some(format!(concat!("`", $key, "` \"{}\": {}"), v, e))
                    }),
                    _ => Err(None),
                }
            }
        }

        impl schemars::JsonSchema for $spec {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($ty).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "description": concat!($what, ": \"", $example, "\"")
                })
            }
        }
    };
}

pub(crate) use text_value;
