//! Environment substitution in string values: `${VAR}`, `${VAR:-default}`, `$$`.
//!
//! Pure: the caller passes the lookup (the process environment for `load`, a map in
//! tests). Which keys are substituted is decided by `validate.rs`; this file only
//! rewrites one string. Errors never quote the string itself, because it may be a
//! secret (an `env` value); they name only the variable, which is config text.

use std::fmt;

/// Why one string could not be substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpError {
    /// `${VAR}` with `VAR` unset and no default.
    Unset { var: String },
    /// `${` without its `}`.
    Unterminated,
    /// `${}` or `${...}` whose name is not `[A-Za-z_][A-Za-z0-9_]*`.
    BadName,
}

impl fmt::Display for InterpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unset { var } => write!(
                f,
                "environment variable {var} is not set (write ${{{var}:-default}} to give a default)"
            ),
            Self::Unterminated => f.write_str("unterminated `${` (close it with `}`, or write `$$` for a literal `$`)"),
            Self::BadName => f.write_str(
                "`${` must be followed by a variable name (letters, digits and _, not starting with a digit), \
                 then `}` or `:-default}`; write `$$` for a literal `$`",
            ),
        }
    }
}

/// True for `[A-Za-z_][A-Za-z0-9_]*`, the names a shell (and `env_passthrough`) accepts.
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Substitute every `${VAR}` / `${VAR:-default}` in `text` and turn `$$` into `$`.
///
/// A `$` followed by anything else stays as it is, so that prices and regexes in
/// arguments need no escaping. The default is taken literally (no nesting) and is
/// used when the variable is unset *or empty*, as in the shell's `:-`. Every unset
/// variable is reported, not only the first.
pub fn substitute(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, Vec<InterpError>> {
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body_and_tail) = after.strip_prefix('{') {
            let Some(close) = body_and_tail.find('}') else {
                errors.push(InterpError::Unterminated);
                return Err(errors);
            };
            let body = &body_and_tail[..close];
            rest = &body_and_tail[close + 1..];
            let (name, default) = match body.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (body, None),
            };
            if !is_env_name(name) {
                errors.push(InterpError::BadName);
                continue;
            }
            match (env(name).filter(|v| !v.is_empty() || default.is_none()), default) {
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => errors.push(InterpError::Unset { var: name.to_owned() }),
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/home/me".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn sub(text: &str) -> Result<String, Vec<InterpError>> {
        substitute(text, &env)
    }

    #[test]
    fn substitutes() {
        assert_eq!(sub("plain").unwrap(), "plain");
        assert_eq!(sub("${HOME}/x").unwrap(), "/home/me/x");
        assert_eq!(sub("a${HOME}b${HOME}").unwrap(), "a/home/meb/home/me");
        assert_eq!(sub("${NOPE:-dflt}").unwrap(), "dflt");
        assert_eq!(sub("${NOPE:-}").unwrap(), "");
        assert_eq!(sub("${EMPTY:-dflt}").unwrap(), "dflt");
        assert_eq!(sub("${EMPTY}").unwrap(), "");
        assert_eq!(sub("${HOME:-dflt}").unwrap(), "/home/me");
        assert_eq!(sub("$${HOME}").unwrap(), "${HOME}");
        assert_eq!(sub("cost: $5, $").unwrap(), "cost: $5, $");
        assert_eq!(sub("$$$$").unwrap(), "$$");
        assert_eq!(sub("${NOPE:-a:-b}").unwrap(), "a:-b");
    }

    #[test]
    fn errors() {
        assert_eq!(sub("${NOPE}"), Err(vec![InterpError::Unset { var: "NOPE".into() }]));
        assert_eq!(
            sub("${A} ${B}"),
            Err(vec![
                InterpError::Unset { var: "A".into() },
                InterpError::Unset { var: "B".into() }
            ])
        );
        assert_eq!(sub("x ${HOME"), Err(vec![InterpError::Unterminated]));
        assert_eq!(sub("${}"), Err(vec![InterpError::BadName]));
        assert_eq!(sub("${1A}"), Err(vec![InterpError::BadName]));
        assert_eq!(
            InterpError::Unset {
                var: "ANTHROPIC_API_KEY".into()
            }
            .to_string(),
            "environment variable ANTHROPIC_API_KEY is not set (write ${ANTHROPIC_API_KEY:-default} to give a default)"
        );
    }

    #[test]
    fn env_names() {
        assert!(is_env_name("ANTHROPIC_API_KEY"));
        assert!(is_env_name("_x1"));
        assert!(!is_env_name(""));
        assert!(!is_env_name("1A"));
        assert!(!is_env_name("A-B"));
        assert!(!is_env_name("A=B"));
    }
}
