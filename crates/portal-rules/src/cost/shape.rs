//! The worst case of a value, as the estimate tracks it: sizes, and what it is a part of.

use std::rc::Rc;

/// A tenth of a unit per byte or element scanned or copied, as Kubernetes charges.
pub(super) const PER_ELEMENT: f64 = 0.1;

/// What a value is a part of. The elements a loop visits add up to at most the size of its
/// range, and so do parts of them, which is what lets costs and sizes proportional to them be
/// counted once for the loop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Part {
    /// Built by the expression.
    Built,
    /// A part of the object (a variable, or a field of one).
    Object,
    /// A part of the element the loop at this depth is visiting.
    LoopElement(usize),
}

/// The worst case of a value: how many elements (or bytes) it has, how many it holds in all,
/// nested ones included, and the same for its elements.
#[derive(Debug, Clone)]
pub(super) struct Shape {
    /// Elements of a list or map, bytes of a string or bytes; 1 for anything else.
    pub(super) len: f64,
    /// Bytes or elements in all, nested ones included.
    pub(super) total: f64,
    /// The share of `total` that is not from `part`: the literals around it, say. All of it for
    /// a value that is not a part of anything.
    pub(super) fixed: f64,
    /// How many times the size of `part` the rest is at most: 2 for `p + p`, 3 for a join of
    /// `p`'s elements with a two-byte separator.
    pub(super) scale: f64,
    /// The shape of each element (of each value, for a map); `None`: a scalar, or, for a part,
    /// again a part of the same.
    pub(super) element: Option<Box<Shape>>,
    /// The largest value, for an int.
    pub(super) max_int: f64,
    pub(super) part: Part,
    /// For a key of a known map (labels, annotations), or a list of distinct ones: that map's
    /// path. Indexing the map with it reaches a distinct value each time.
    pub(super) keys_of: Option<Rc<str>>,
}

impl Shape {
    pub(super) fn scalar() -> Shape {
        Shape {
            len: 1.0,
            total: 1.0,
            fixed: 1.0,
            scale: 1.0,
            element: None,
            max_int: f64::INFINITY,
            part: Part::Built,
            keys_of: None,
        }
    }

    pub(super) fn int(max_int: f64) -> Shape {
        Shape { max_int, ..Shape::scalar() }
    }

    pub(super) fn string(bytes: f64) -> Shape {
        Shape { len: bytes, total: bytes, fixed: bytes, ..Shape::scalar() }
    }

    pub(super) fn list(len: f64, element: Shape) -> Shape {
        let total = len * element.total.max(1.0);
        Shape {
            len,
            total,
            fixed: total,
            scale: 1.0,
            element: Some(Box::new(element)),
            max_int: f64::INFINITY,
            part: Part::Built,
            keys_of: None,
        }
    }

    pub(super) fn object_part(largest_object: f64, part: Part) -> Shape {
        Shape {
            len: largest_object,
            total: largest_object,
            fixed: 0.0,
            scale: 1.0,
            element: None,
            max_int: f64::INFINITY,
            part,
            keys_of: None,
        }
    }

    /// An element of this list (a value of this map): a part of whatever this is a part of.
    pub(super) fn element(&self) -> Shape {
        match (&self.element, self.part) {
            (Some(element), Part::Built) => (**element).clone(),
            (Some(element), part) => Shape { part, fixed: 0.0, scale: self.scale, ..(**element).clone() },
            (None, Part::Built) => Shape::scalar(),
            (None, part) => Shape { part, fixed: 0.0, ..self.clone() },
        }
    }

    /// This shape once the loop whose elements are `from` has ended: what were parts of its
    /// elements are now parts of `to`.
    pub(super) fn rebased(self, from: Part, to: Part) -> Shape {
        let element = self.element.map(|element| Box::new(element.rebased(from, to)));
        if self.part != from {
            return Shape { element, ..self };
        }
        let (fixed, scale) = if to == Part::Built { (self.total, 1.0) } else { (self.fixed, self.scale) };
        Shape { part: to, fixed, scale, element, ..self }
    }

    /// A value that is one or the other.
    pub(super) fn either(&self, other: &Shape) -> Shape {
        let element = match (&self.element, &other.element) {
            (Some(a), Some(b)) => Some(Box::new(a.either(b))),
            (Some(only), None) | (None, Some(only)) => Some(only.clone()),
            (None, None) => None,
        };
        // A built value is bounded by its size whatever it is, so it only adds to the fixed share.
        let (part, fixed, scale) = match (self.part, other.part) {
            (a, b) if a == b => (a, self.fixed.max(other.fixed), self.scale.max(other.scale)),
            (Part::Built, part) => (part, other.fixed.max(self.total), other.scale),
            (part, Part::Built) => (part, self.fixed.max(other.total), self.scale),
            _ => (Part::Built, self.total.max(other.total), 1.0),
        };
        Shape {
            len: self.len.max(other.len),
            total: self.total.max(other.total),
            fixed,
            scale,
            element,
            max_int: self.max_int.max(other.max_int),
            part,
            keys_of: if self.keys_of == other.keys_of { self.keys_of.clone() } else { None },
        }
    }

    pub(super) fn built(self) -> Shape {
        Shape { part: Part::Built, fixed: self.total, scale: 1.0, ..self }
    }
}

/// The part a value made of all of `pieces` is a part of, and its share not from that part:
/// the one part the pieces that are parts have in common (pieces built by the expression only
/// add to the fixed share), else none.
fn merged_part<'s>(pieces: impl IntoIterator<Item = &'s Shape>) -> (Part, f64, f64) {
    let mut part = None;
    let mut fixed = 0.0;
    let mut scale = 0.0;
    for piece in pieces {
        match (piece.part, part) {
            (Part::Built, _) => fixed += piece.total,
            (own, None) => {
                part = Some(own);
                fixed += piece.fixed;
                scale += piece.scale;
            }
            (own, Some(common)) if own == common => {
                fixed += piece.fixed;
                scale += piece.scale;
            }
            _ => part = Some(Part::Built),
        }
    }
    match part {
        Some(Part::Built) | None => (Part::Built, f64::NAN, 1.0),
        Some(part) => (part, fixed, scale),
    }
}

/// A value made of `pieces`, of `len` elements (or bytes) and the given element shape.
pub(super) fn made_of<'s>(
    pieces: impl IntoIterator<Item = &'s Shape> + Clone,
    len: f64,
    element: Option<Box<Shape>>,
) -> Shape {
    let total = pieces.clone().into_iter().map(|p| p.total).sum::<f64>().max(len);
    let (part, fixed, scale) = merged_part(pieces);
    let fixed = if part == Part::Built { total } else { fixed };
    Shape { len, total, fixed, scale, element, max_int: f64::INFINITY, part, keys_of: None }
}
