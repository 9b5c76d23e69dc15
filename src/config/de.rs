//! A serde deserializer over toml's spanned document tree that never stops at the first
//! problem. Unknown keys are recorded (with a suggestion) and skipped; a value of the wrong
//! shape where an array or a table is expected is recorded and read as empty. Leaves are read
//! by [`super::leaf::Leaf`] as raw scalars and converted later, so that every error of a file
//! can be reported in one pass.

use std::cell::RefCell;
use std::fmt;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::source::{Diag, FileId, Loc};

/// Struct name through which [`super::leaf::Sp`] asks for its location.
pub(crate) const SP_NAME: &str = "$haldir::private::Sp";
pub(crate) const SP_FIELDS: &[&str] = &["$file", "$start", "$end", "$value"];

/// Where the deserializer records what it finds.
pub(crate) struct Cx {
    pub file: FileId,
    pub diags: RefCell<Vec<Diag>>,
}

impl Cx {
    pub(crate) fn new(file: FileId) -> Self {
        Cx {
            file,
            diags: RefCell::new(Vec::new()),
        }
    }

    fn loc(&self, span: std::ops::Range<usize>) -> Loc {
        Loc::new(self.file, span)
    }

    fn push(&self, d: Diag) {
        self.diags.borrow_mut().push(d);
    }
}

/// Only raised by a `Deserialize` impl that refuses what it was given; the raw model's impls
/// are lenient, so in practice this carries internal mistakes with their location.
#[derive(Debug)]
pub(crate) struct DeError(pub String);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError(msg.to_string())
    }
}

pub(crate) fn kind_of(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

pub(crate) fn int_value(i: &toml::de::DeInteger<'_>) -> Option<i64> {
    i64::from_str_radix(i.as_str(), i.radix()).ok()
}

#[derive(Clone, Copy)]
pub(crate) struct ValueDe<'a, 'i> {
    pub value: &'a Spanned<DeValue<'i>>,
    pub cx: &'a Cx,
}

impl<'a, 'i> ValueDe<'a, 'i> {
    fn mismatch(&self, expected: &str) {
        let found = kind_of(self.value.get_ref());
        self.cx.push(Diag::error(
            self.cx.loc(self.value.span()),
            format!("expected {expected}, found {found}"),
        ));
    }

    fn table<V: Visitor<'a>>(
        self,
        what: &'static str,
        fields: Option<&'static [&'static str]>,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.value.get_ref() {
            DeValue::Table(t) => visitor.visit_map(TableAccess::new(t, self.cx, what, fields)),
            _ => {
                self.mismatch("a table");
                visitor.visit_map(de::value::MapDeserializer::<
                    std::iter::Empty<(&str, &str)>,
                    DeError,
                >::new(std::iter::empty()))
            }
        }
    }
}

impl<'de, 'a, 'i> de::Deserializer<'de> for ValueDe<'a, 'i>
where
    'a: 'de,
{
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value.get_ref() {
            DeValue::String(s) => visitor.visit_str(s),
            DeValue::Integer(i) => match int_value(i) {
                Some(n) => visitor.visit_i64(n),
                None => {
                    self.cx.push(Diag::error(
                        self.cx.loc(self.value.span()),
                        "integer does not fit in 64 bits",
                    ));
                    visitor.visit_i64(i64::MAX)
                }
            },
            DeValue::Float(f) => visitor.visit_f64(f.as_str().parse().unwrap_or(f64::NAN)),
            DeValue::Boolean(b) => visitor.visit_bool(*b),
            DeValue::Datetime(d) => visitor.visit_string(d.to_string()),
            DeValue::Array(a) => visitor.visit_seq(ArrayAccess {
                iter: a.iter(),
                cx: self.cx,
            }),
            DeValue::Table(_) => self.table("table", None, visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value.get_ref() {
            DeValue::Array(a) => visitor.visit_seq(ArrayAccess {
                iter: a.iter(),
                cx: self.cx,
            }),
            _ => {
                self.mismatch("an array");
                visitor.visit_seq(ArrayAccess {
                    iter: [].iter(),
                    cx: self.cx,
                })
            }
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == SP_NAME {
            return visitor.visit_map(SpAccess { de: self, step: 0 });
        }
        self.table(name, Some(fields), visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.table("table", None, visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct tuple
        tuple_struct enum identifier
    }
}

struct ArrayAccess<'a, 'i> {
    iter: std::slice::Iter<'a, Spanned<DeValue<'i>>>,
    cx: &'a Cx,
}

impl<'de, 'a, 'i> SeqAccess<'de> for ArrayAccess<'a, 'i>
where
    'a: 'de,
{
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.iter.next() {
            Some(value) => seed.deserialize(ValueDe { value, cx: self.cx }).map(Some),
            None => Ok(None),
        }
    }

    /// The exact length, so that a `Vec` is allocated once: growing one of ten large
    /// real-server records at a time was a fifth of the time to read a 10,000-server file.
    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct TableAccess<'a, 'i> {
    iter: Box<
        dyn Iterator<
                Item = (
                    &'a Spanned<toml::de::DeString<'i>>,
                    &'a Spanned<DeValue<'i>>,
                ),
            > + 'a,
    >,
    pending: Option<&'a Spanned<DeValue<'i>>>,
    cx: &'a Cx,
    what: &'static str,
    fields: Option<&'static [&'static str]>,
}

impl<'a, 'i> TableAccess<'a, 'i> {
    fn new(
        table: &'a DeTable<'i>,
        cx: &'a Cx,
        what: &'static str,
        fields: Option<&'static [&'static str]>,
    ) -> Self {
        TableAccess {
            iter: Box::new(table.iter()),
            pending: None,
            cx,
            what,
            fields,
        }
    }
}

/// The closest known key, for "did you mean" — only when it is close enough to be a typo.
pub(crate) fn suggest<'f>(key: &str, fields: &[&'f str]) -> Option<&'f str> {
    fields
        .iter()
        .filter(|f| !f.starts_with('$'))
        .map(|f| (strsim::damerau_levenshtein(key, f), *f))
        .filter(|(d, f)| *d <= 2.max(f.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, f)| f)
}

impl<'de, 'a, 'i> MapAccess<'de> for TableAccess<'a, 'i>
where
    'a: 'de,
{
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        for (key, value) in self.iter.by_ref() {
            let name: &'a str = key.get_ref().as_ref();
            if let Some(fields) = self.fields
                && !fields.contains(&name)
            {
                let mut d = Diag::error(
                    self.cx.loc(key.span()),
                    format!("unknown key `{name}` in {}", self.what),
                );
                d = match suggest(name, fields) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(format!(
                        "expected one of: {}",
                        fields
                            .iter()
                            .filter(|f| !f.starts_with('$'))
                            .map(|f| format!("`{f}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                };
                self.cx.push(d);
                continue;
            }
            self.pending = Some(value);
            return seed
                .deserialize(BorrowedStrDeserializer::<DeError>::new(name))
                .map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.pending.take() {
            Some(value) => seed.deserialize(ValueDe { value, cx: self.cx }),
            None => Err(DeError("value requested before its key".into())),
        }
    }
}

/// Hands [`super::leaf::Sp`] the file, the span and then the value itself.
struct SpAccess<'a, 'i> {
    de: ValueDe<'a, 'i>,
    step: usize,
}

impl<'de, 'a, 'i> MapAccess<'de> for SpAccess<'a, 'i>
where
    'a: 'de,
{
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match SP_FIELDS.get(self.step) {
            Some(f) => seed.deserialize((*f).into_deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let span = self.de.value.span();
        self.step += 1;
        match self.step {
            1 => seed.deserialize((self.de.cx.file.0 as u64).into_deserializer()),
            2 => seed.deserialize((span.start as u64).into_deserializer()),
            3 => seed.deserialize((span.end as u64).into_deserializer()),
            _ => seed.deserialize(self.de),
        }
    }
}
