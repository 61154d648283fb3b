//! Kubernetes' CEL quantity library (k8s.io/apiserver/pkg/cel/library/quantity.go): resource
//! quantities such as `1.5Gi`, `100m` or `2e3`, parsed and compared exactly as Kubernetes does.
//!
//! - `quantity(string)`, `isQuantity(string)`;
//! - members `isInteger()`, `asInteger()`, `asApproximateFloat()`, `sign()` (also callable as
//!   `sign(q)`, the form Kubernetes actually declares), `add(quantity|int)`, `sub(quantity|int)`,
//!   `isGreaterThan(quantity)`, `isLessThan(quantity)`, `compareTo(quantity)`;
//! - `==` by value: `quantity('1Gi') == quantity('1024Mi')`.
//!
//! As in Kubernetes, `<` and friends are not defined on quantities: use the members.

mod amount;
mod big;

use amount::Amount;
use cel::common::types::{CelBool, CelDouble, CelInt, CelString, Kind, Type};
use cel::{DeclarationError, Env, ExecutionError};
use std::cmp::Ordering;

/// `kubernetes.Quantity`, the type name Kubernetes gives quantities, so that
/// `type(quantity('1')) == kubernetes.Quantity`.
static QUANTITY_TYPE: Type = Type::simple_type(Kind::Opaque, "kubernetes.Quantity");

/// A Kubernetes `resource.Quantity` as a CEL value.
#[derive(Clone, Debug)]
pub(crate) struct Quantity(Amount);

// Kubernetes compares quantities by value, whatever their suffix or internal form.
crate::support::opaque_val!(Quantity, QUANTITY_TYPE, |this, other| this.0.cmp(&other.0) == Ordering::Equal);

/// Registers the quantity library on `env`, with Kubernetes' function names and overload ids.
pub(crate) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_type(QUANTITY_TYPE.to_owned())?;
    cel::add_overload!(env, fn quantity: (CelString) -> Result<Quantity>, id = "string_to_quantity")?;
    cel::add_overload!(env, fn is_quantity: (CelString) -> CelBool, id = "is_quantity_string")?;
    cel::add_overload!(env, fn sign: (Quantity) -> CelInt, id = "quantity_sign")?;
    // Kubernetes documents `q.sign()` but only declares `sign(q)`; accept both.
    cel::add_member_overload!(env, fn sign: (Quantity) -> CelInt, id = "quantity_sign_member")?;
    cel::add_member_overload!(env, fn is_greater_than: (Quantity, Quantity) -> CelBool,
        id = "quantity_is_greater_than")?;
    cel::add_member_overload!(env, fn is_less_than: (Quantity, Quantity) -> CelBool,
        id = "quantity_is_less_than")?;
    cel::add_member_overload!(env, fn compare_to: (Quantity, Quantity) -> CelInt,
        id = "quantity_compare_to")?;
    cel::add_member_overload!(env, fn as_approximate_float: (Quantity) -> CelDouble,
        id = "quantity_get_float")?;
    cel::add_member_overload!(env, fn as_integer: (Quantity) -> Result<CelInt>,
        id = "quantity_get_int")?;
    cel::add_member_overload!(env, fn is_integer: (Quantity) -> CelBool,
        id = "quantity_is_integer")?;
    cel::add_member_overload!(env, fn add: (Quantity, Quantity) -> Result<Quantity>,
        id = "quantity_add")?;
    cel::add_member_overload!(env, fn add_int: (Quantity, CelInt) -> Result<Quantity>,
        name = "add", id = "quantity_add_int")?;
    cel::add_member_overload!(env, fn sub: (Quantity, Quantity) -> Result<Quantity>,
        id = "quantity_sub")?;
    cel::add_member_overload!(env, fn sub_int: (Quantity, CelInt) -> Result<Quantity>,
        name = "sub", id = "quantity_sub_int")?;
    Ok(())
}

/// `quantity(string)`: fails with Kubernetes' parse error messages.
fn quantity(s: &CelString<'_>) -> Result<Quantity, ExecutionError> {
    Amount::parse(s.inner()).map(Quantity).map_err(|e| ExecutionError::function_error("quantity", e))
}

/// `isQuantity(string)`: true exactly when `quantity()` would succeed.
fn is_quantity(s: &CelString<'_>) -> CelBool {
    CelBool::from(Amount::parse(s.inner()).is_ok())
}

fn sign(q: &Quantity) -> CelInt {
    CelInt::from(q.0.sign())
}

fn is_greater_than(q: &Quantity, other: &Quantity) -> CelBool {
    CelBool::from(q.0.cmp(&other.0) == Ordering::Greater)
}

fn is_less_than(q: &Quantity, other: &Quantity) -> CelBool {
    CelBool::from(q.0.cmp(&other.0) == Ordering::Less)
}

fn compare_to(q: &Quantity, other: &Quantity) -> CelInt {
    CelInt::from(q.0.cmp(&other.0) as i64)
}

fn as_approximate_float(q: &Quantity) -> CelDouble {
    CelDouble::from(q.0.approximate_f64())
}

/// `asInteger()`: only as Kubernetes can convert (see [`amount`] on why `1.5Gi` cannot).
fn as_integer(q: &Quantity) -> Result<CelInt, ExecutionError> {
    q.0.as_i64()
        .map(CelInt::from)
        .ok_or_else(|| ExecutionError::function_error("asInteger", "cannot convert value to integer"))
}

fn is_integer(q: &Quantity) -> CelBool {
    CelBool::from(q.0.as_i64().is_some())
}

fn add(q: &Quantity, other: &Quantity) -> Result<Quantity, ExecutionError> {
    q.0.add(&other.0).map(Quantity).map_err(|e| ExecutionError::function_error("add", e))
}

fn add_int(q: &Quantity, other: &CelInt) -> Result<Quantity, ExecutionError> {
    q.0.add(&Amount::from_i64(*other.inner())).map(Quantity).map_err(|e| ExecutionError::function_error("add", e))
}

fn sub(q: &Quantity, other: &Quantity) -> Result<Quantity, ExecutionError> {
    q.0.sub(&other.0).map(Quantity).map_err(|e| ExecutionError::function_error("sub", e))
}

fn sub_int(q: &Quantity, other: &CelInt) -> Result<Quantity, ExecutionError> {
    q.0.sub(&Amount::from_i64(*other.inner())).map(Quantity).map_err(|e| ExecutionError::function_error("sub", e))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {

    /// What an expression should evaluate to.
    use crate::test_support::Expect::{self, *};
    use crate::test_support::check;

    /// The examples of quantity.go's documentation, of its tests (quantity_test.go) and of the
    /// Kubernetes website, plus the corner cases where Kubernetes' behaviour is surprising.
    const CASES: &[(&str, Expect)] = &[
        // quantity / isQuantity
        ("isQuantity('1.3G')", Bool(true)),
        ("isQuantity('1.3Gi')", Bool(true)),
        ("isQuantity('1,3G')", Bool(false)),
        ("isQuantity('10000k')", Bool(true)),
        ("isQuantity('200K')", Bool(false)),
        ("isQuantity('Three')", Bool(false)),
        ("isQuantity('20')", Bool(true)),
        ("isQuantity('20M')", Bool(true)),
        ("isQuantity('20Mi')", Bool(true)),
        ("isQuantity('20Mo')", Bool(false)),
        ("isQuantity('10Mm')", Bool(false)),
        ("isQuantity('')", Bool(false)),
        ("isQuantity('1e-3')", Bool(true)),
        ("quantity('200k') == quantity('200000')", Bool(true)),
        ("quantity('1.5G') == quantity('1500M')", Bool(true)),
        ("quantity('200K')", Fails("unable to parse quantity's suffix")),
        ("quantity('Three')", Fails("quantities must match the regular expression")),
        ("quantity('10Mo')", Fails("quantities must match the regular expression")),
        ("quantity('10Mm')", Fails("unable to parse quantity's suffix")),
        // The documentation says quantity('Mi') fails, but Kubernetes' parser reads a bare
        // suffix as zero, and so do we.
        ("quantity('Mi') == quantity('0')", Bool(true)),
        // Equality is by value.
        ("quantity('1Gi') == quantity('1024Mi')", Bool(true)),
        ("quantity('200M') == quantity('200M')", Bool(true)),
        ("quantity('200M') == quantity('0.2G') && quantity('0.2G') == quantity('200M')", Bool(true)),
        (
            "quantity('2M') == quantity('0.002G') && quantity('2000k') == quantity('2M') \
             && quantity('0.002G') == quantity('2000k')",
            Bool(true),
        ),
        ("quantity('200M') == quantity('0.3G')", Bool(false)),
        ("quantity('200M') != quantity('0.3G')", Bool(true)),
        ("quantity('1') == 1", Bool(false)),
        ("quantity('100m') == quantity('0.1')", Bool(true)),
        ("quantity('1e3') == quantity('1k')", Bool(true)),
        ("quantity('1E-3') == quantity('1m')", Bool(true)),
        ("quantity('1.5Gi') == quantity('1536Mi')", Bool(true)),
        ("quantity('0.1n') == quantity('1n')", Bool(true)),
        ("quantity('1Gi') in [quantity('1G'), quantity('1073741824')]", Bool(true)),
        ("type(quantity('1')) == kubernetes.Quantity", Bool(true)),
        // isInteger / asInteger / asApproximateFloat
        ("quantity('50000000G').isInteger()", Bool(true)),
        ("quantity('500000G').isInteger()", Bool(true)),
        ("quantity('50k').isInteger()", Bool(true)),
        ("quantity('50').isInteger()", Bool(true)),
        ("quantity('9999999999999999999999999999999999999G').isInteger()", Bool(false)),
        ("quantity('9999999999999999999999999999999999999G').asInteger()", Fails("cannot convert value to integer")),
        ("quantity('9999999999999999999999999999999999999G').asApproximateFloat()", Float(1.0000000000000001e46)),
        ("quantity('50k').asInteger() == 50000", Bool(true)),
        ("quantity('50k').asInteger()", Int(50000)),
        ("quantity('50.703k').asApproximateFloat()", Float(50703.0)),
        ("quantity('50k').sub(20000).asApproximateFloat() == 30000.0", Bool(true)),
        ("quantity('100m').asApproximateFloat()", Float(0.1)),
        ("quantity('1.5').asApproximateFloat()", Float(1.5)),
        ("quantity('1.5Gi').asApproximateFloat()", Float(1610612736.0)),
        // Kubernetes only converts its int64 form at a whole scale: these are false there too.
        ("quantity('1.5Gi').isInteger()", Bool(false)),
        ("quantity('1000m').isInteger()", Bool(false)),
        ("quantity('1.0').isInteger()", Bool(false)),
        ("quantity('1.5G').asInteger()", Int(1500000000)),
        ("quantity('1Gi').asInteger()", Int(1073741824)),
        ("quantity('-1e18').asInteger()", Int(-1_000_000_000_000_000_000)),
        ("quantity('1e19').isInteger()", Bool(false)),
        // sign
        ("quantity('50k').sign()", Int(1)),
        ("quantity('-50k').sign()", Int(-1)),
        ("quantity('0').sign()", Int(0)),
        ("sign(quantity('-1n'))", Int(-1)),
        // add / sub
        ("quantity('50k').add(quantity('20k')) == quantity('70k')", Bool(true)),
        ("quantity('50k').add(20) == quantity('50020')", Bool(true)),
        ("quantity('50k').sub(quantity('20k')) == quantity('30k')", Bool(true)),
        ("quantity('50k').sub(20000) == quantity('30k')", Bool(true)),
        ("quantity('50k').add(20).sub(quantity('100k')).sub(-50000) == quantity('20')", Bool(true)),
        ("quantity('50k').add(quantity('20')) == quantity('50.02k')", Bool(true)),
        ("quantity('50.02k') == quantity('50k').add(quantity('20'))", Bool(true)),
        ("quantity('50k').add(20).isLessThan(quantity('50020'))", Bool(false)),
        ("quantity('50k').sub(quantity('20')) == quantity('49.98k')", Bool(true)),
        ("quantity('50k').sub(20) == quantity('49980')", Bool(true)),
        ("quantity('50k').add(20).sub(quantity('100k')).asInteger()", Int(-49980)),
        ("quantity('50k').add(20).sub(quantity('100k')).sub(-50000).asInteger()", Int(20)),
        ("quantity('1.5Gi').add(quantity('512Mi')) == quantity('2Gi')", Bool(true)),
        ("quantity('100m').add(quantity('900m')) == quantity('1')", Bool(true)),
        ("quantity('0.1').add(quantity('0.2')) == quantity('0.3')", Bool(true)),
        ("quantity('1').sub(quantity('1.5')).sign()", Int(-1)),
        ("quantity('9223372036854775807').add(1).isGreaterThan(quantity('9223372036854775807'))", Bool(true)),
        ("quantity('1').add('1')", Fails("")),
        // Results are new values: the receiver is unchanged.
        ("[quantity('1.5Gi')].all(q, q.add(quantity('1')) != q && q == quantity('1536Mi'))", Bool(true)),
        // Comparisons
        ("quantity('200M').compareTo(quantity('0.2G'))", Int(0)),
        ("quantity('50M').compareTo(quantity('50Mi'))", Int(-1)),
        ("quantity('50Mi').compareTo(quantity('50M'))", Int(1)),
        ("quantity('150Mi').isGreaterThan(quantity('100Mi'))", Bool(true)),
        ("quantity('50Mi').isGreaterThan(quantity('100Mi'))", Bool(false)),
        ("quantity('50Mi').isGreaterThan(quantity('50M'))", Bool(true)),
        ("quantity('50M').isGreaterThan(quantity('100M'))", Bool(false)),
        ("quantity('50M').isLessThan(quantity('100M'))", Bool(true)),
        ("quantity('50M').isLessThan(quantity('50Mi'))", Bool(true)),
        ("quantity('100M').isLessThan(quantity('50M'))", Bool(false)),
        ("quantity('-1').isLessThan(quantity('1n'))", Bool(true)),
        ("quantity('1.5').isLessThan(quantity('1501m'))", Bool(true)),
        ("quantity('1') < quantity('2')", Fails("")),
        ("quantity(1)", Fails("")),
    ];

    #[test]
    fn quantity_library_behaves_like_kubernetes() {
        check(CASES);
    }
}
