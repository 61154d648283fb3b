//! Maps and lists that are cheap to clone.
//!
//! The `cel` interpreter clones a value whenever a comprehension binds it (`containers.all(c, …)`
//! clones every container) and when optional syntax wraps it. Its built-in map and list clone
//! deeply; these wrappers share one copy behind an `Arc` and otherwise behave exactly like the
//! built-ins (they answer `as_builtin` with the inner value, so downcasts and equality work).

use std::sync::Arc;

use cel::ExecutionError;
use cel::common::traits::{Adder, Comparer, Container, Indexer, Iterable, Sizer, Zeroer};
use cel::common::types::{CelList, CelMap, LIST_TYPE, MAP_TYPE, Type};
use cel::common::value::{Builtin, BuiltinRef, CowVal, Val};

/// A shared, immutable built-in map or list.
#[derive(Debug)]
pub(crate) struct Shared<T>(Arc<T>);

impl<T> Shared<T> {
    pub(crate) fn new(inner: T) -> Shared<T> {
        Shared(Arc::new(inner))
    }
}

macro_rules! shared_val {
    ($inner:ident, $variant:ident, $type:expr) => {
        impl<'v> Val for Shared<$inner<'v>> {
            fn get_type(&self) -> &Type {
                self.0.get_type()
            }

            fn cel_type() -> &'static Type {
                &$type
            }

            fn as_adder<'b, 'w>(&'b self) -> Option<&'b (dyn Adder + 'w)>
            where
                Self: 'w,
            {
                self.0.as_adder()
            }

            fn as_comparer(&self) -> Option<&dyn Comparer> {
                self.0.as_comparer()
            }

            fn as_container(&self) -> Option<&dyn Container> {
                self.0.as_container()
            }

            fn as_indexer<'b, 'w>(&'b self) -> Option<&'b (dyn Indexer + 'w)>
            where
                Self: 'w,
            {
                self.0.as_indexer()
            }

            fn into_indexer<'w>(self: Box<Self>) -> Option<Box<dyn Indexer + 'w>>
            where
                Self: 'w,
            {
                Some(self)
            }

            fn as_iterable<'b, 'w>(&'b self) -> Option<&'b (dyn Iterable + 'w)>
            where
                Self: 'w,
            {
                self.0.as_iterable()
            }

            fn as_sizer(&self) -> Option<&dyn Sizer> {
                self.0.as_sizer()
            }

            fn as_zeroer(&self) -> Option<&dyn Zeroer> {
                self.0.as_zeroer()
            }

            fn equals(&self, other: &dyn Val) -> bool {
                self.0.equals(other)
            }

            fn clone_as_boxed<'w>(&self) -> Box<dyn Val + 'w>
            where
                Self: 'w,
            {
                Box::new(Shared(Arc::clone(&self.0)))
            }

            fn as_builtin<'b, 'w>(&'b self) -> BuiltinRef<'b, 'w>
            where
                Self: 'w,
            {
                BuiltinRef::$variant(&self.0)
            }

            fn into_builtin<'w>(self: Box<Self>) -> Option<Builtin<'w>>
            where
                Self: 'w,
            {
                // Taking ownership out of a shared value copies it; this is the rare path.
                let inner = Arc::try_unwrap(self.0).unwrap_or_else(|shared| (*shared).clone());
                Some(Builtin::$variant(inner))
            }
        }

        impl<'v> Indexer for Shared<$inner<'v>> {
            fn get<'b, 'w>(&'b self, index: &dyn Val) -> Result<CowVal<'b, 'w>, ExecutionError>
            where
                Self: 'w,
            {
                Indexer::get(&*self.0, index)
            }

            fn steal<'w>(self: Box<Self>, index: &dyn Val) -> Result<Box<dyn Val + 'w>, ExecutionError>
            where
                Self: 'w,
            {
                // Elements are themselves shared, so "stealing" one is a cheap clone.
                Indexer::get(&*self.0, index).map(CowVal::into_owned)
            }
        }
    };
}

shared_val!(CelMap, Map, MAP_TYPE);
shared_val!(CelList, List, LIST_TYPE);
