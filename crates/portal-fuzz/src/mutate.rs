//! Mutations of an input: the few kinds that reach deep into text parsers — bytes flipped,
//! ranges deleted or repeated, tokens of the input languages inserted, inputs spliced.

/// Fragments of YAML, JSON, CEL and regular expressions worth inserting.
const TOKENS: &[&str] = &[
    "---\n",
    "{",
    "}",
    "[",
    "]",
    ": ",
    "- ",
    "\"",
    "'",
    "&a ",
    "*a",
    "<<: ",
    "!!",
    "\n  ",
    "null",
    "true",
    "1e999",
    "-9223372036854775809",
    "18446744073709551616",
    "0x",
    "\\u0000",
    "..",
    ".map(x, ",
    ".all(c, ",
    ".exists(x, ",
    "?.",
    ".?",
    "+",
    "&&",
    "||",
    "==",
    "!",
    "size(",
    "matches('",
    "(a*)*",
    "a**",
    "{1001}",
    "lists.range(",
    "quantity('",
    "ip('",
    "cidr('",
    "url('",
    "format.",
    "string(",
    "int(",
    "double(",
    "/0",
    "%",
    ")",
    "container.",
    "object.",
    "spec.",
    "request.",
    "namespaceObject.",
    "\"apiVersion\": \"v1\"",
    "\"kind\": \"Pod\"",
    "\"request\": {\"uid\": \"u\", \"operation\": \"UPDATE\", \"subResource\": \"scale\"}",
];

/// A seeded source of mutations.
#[derive(Debug)]
pub struct Mutator {
    rng: fastrand::Rng,
}

impl Mutator {
    pub fn new(seed: u64) -> Mutator {
        Mutator { rng: fastrand::Rng::with_seed(seed) }
    }

    /// A mutation of `input`, possibly spliced with `other`, at most `max_len` bytes long.
    pub fn mutate(&mut self, input: &[u8], other: &[u8], max_len: usize) -> Vec<u8> {
        let mut data = input.to_vec();
        for _ in 0..self.rng.usize(1..=4) {
            let position = if data.is_empty() { 0 } else { self.rng.usize(..=data.len()) };
            match self.rng.u8(..7) {
                0 if !data.is_empty() => {
                    let at = self.rng.usize(..data.len());
                    data[at] ^= 1 << self.rng.u8(..8);
                }
                1 if !data.is_empty() => {
                    let at = self.rng.usize(..data.len());
                    data[at] = self.rng.u8(..);
                }
                2 if !data.is_empty() => {
                    let end = (position + self.rng.usize(1..=16)).min(data.len());
                    data.drain(position.min(end)..end);
                }
                3 => {
                    let token = TOKENS[self.rng.usize(..TOKENS.len())];
                    data.splice(position..position, token.bytes());
                }
                4 if !data.is_empty() => {
                    // Repeat a range: deep nesting and long chains come from here.
                    let start = self.rng.usize(..data.len());
                    let end = (start + self.rng.usize(1..=8)).min(data.len());
                    let piece = data[start..end].to_vec();
                    for _ in 0..self.rng.usize(1..=64) {
                        data.splice(end..end, piece.iter().copied());
                    }
                }
                5 if !other.is_empty() => {
                    let start = self.rng.usize(..other.len());
                    let end = (start + self.rng.usize(1..=64)).min(other.len());
                    data.splice(position..position, other[start..end].iter().copied());
                }
                _ => data.insert(position, self.rng.u8(..)),
            }
        }
        data.truncate(max_len);
        data
    }
}
