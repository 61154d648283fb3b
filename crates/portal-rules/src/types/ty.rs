//! The types the checker infers.

/// A CEL type, as far as the checker knows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Type {
    Dyn,
    Null,
    Bool,
    Int,
    Uint,
    Double,
    String,
    Bytes,
    Timestamp,
    Duration,
    /// The type of a type (`type(x)`, `int`): CEL calls it `type`.
    Kind,
    List(Box<Type>),
    Map(Box<Type>, Box<Type>),
    Optional(Box<Type>),
    /// A library type: `kubernetes.Quantity`, `net.URL`, `net.IP`, `net.CIDR`, `kubernetes.Semver`.
    Opaque(&'static str),
}

impl Type {
    pub(crate) fn list(element: Type) -> Type {
        Type::List(Box::new(element))
    }

    pub(super) fn map(key: Type, value: Type) -> Type {
        Type::Map(Box::new(key), Box::new(value))
    }

    /// CEL's name for the type, as cel-go prints it.
    pub(crate) fn name(&self) -> String {
        match self {
            Type::Dyn => "dyn".into(),
            Type::Null => "null_type".into(),
            Type::Bool => "bool".into(),
            Type::Int => "int".into(),
            Type::Uint => "uint".into(),
            Type::Double => "double".into(),
            Type::String => "string".into(),
            Type::Bytes => "bytes".into(),
            Type::Timestamp => "google.protobuf.Timestamp".into(),
            Type::Duration => "google.protobuf.Duration".into(),
            Type::Kind => "type".into(),
            Type::List(element) => format!("list({})", element.name()),
            Type::Map(key, value) => format!("map({}, {})", key.name(), value.name()),
            Type::Optional(inner) => format!("optional_type({})", inner.name()),
            Type::Opaque(name) => (*name).into(),
        }
    }

    /// Whether a value of type `self` may be where `other` is expected, or the other way round:
    /// `dyn` goes with anything, and containers go by their parameters.
    pub(crate) fn compatible(&self, other: &Type) -> bool {
        match (self, other) {
            (Type::Dyn, _) | (_, Type::Dyn) => true,
            (Type::List(a), Type::List(b)) | (Type::Optional(a), Type::Optional(b)) => a.compatible(b),
            (Type::Map(ka, va), Type::Map(kb, vb)) => ka.compatible(kb) && va.compatible(vb),
            (a, b) => a == b,
        }
    }

    /// The more precise of two compatible types (`dyn` gives way).
    pub(super) fn join(&self, other: &Type) -> Type {
        match (self, other) {
            (Type::Dyn, t) | (t, Type::Dyn) => t.clone(),
            (Type::List(a), Type::List(b)) => Type::list(a.join(b)),
            (Type::Optional(a), Type::Optional(b)) => Type::Optional(Box::new(a.join(b))),
            (Type::Map(ka, va), Type::Map(kb, vb)) => Type::map(ka.join(kb), va.join(vb)),
            (a, _) => a.clone(),
        }
    }

    pub(super) fn is_numeric(&self) -> bool {
        matches!(self, Type::Int | Type::Uint | Type::Double)
    }
}
