use cel::{DeclarationError, Env};

pub(crate) fn register(_env: &mut Env) -> Result<(), DeclarationError> {
    Ok(())
}
