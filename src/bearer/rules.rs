//! The rules a valid token must also satisfy on a layer: scopes (all of a set, or any of a
//! set) and the application's own checks on the typed claims.
//!
//! Every rule is built once, when the layer is configured; checking them allocates nothing
//! unless a rule refuses.

use std::{borrow::Cow, fmt, sync::Arc};

use super::{AuthError, Denied};
use crate::token::Claims;

/// A check on the claims, stored once per layer.
type Check<T> = Arc<dyn Fn(&Claims<T>) -> Result<(), AuthError> + Send + Sync>;

/// Scopes and their space-separated form, the `scope` of the 403 challenge.
#[derive(Clone, Default)]
struct ScopeSet {
    scopes: Box<[Box<str>]>,
    joined: Arc<str>,
}

impl ScopeSet {
    /// The non-empty scopes of `scopes`, without duplicates.
    fn new(scopes: impl IntoIterator<Item = String>) -> Self {
        let mut set: Vec<Box<str>> = Vec::new();
        for scope in scopes {
            if !scope.is_empty() && !set.iter().any(|s| **s == *scope) {
                set.push(scope.into_boxed_str());
            }
        }
        Self {
            joined: set.join(" ").into(),
            scopes: set.into_boxed_slice(),
        }
    }

    fn refusal(&self) -> AuthError {
        AuthError::InsufficientScope(Cow::Owned(self.joined.to_string()))
    }
}

/// The rules of one layer; all of them must pass.
pub(crate) struct Rules<T> {
    /// Every one of these scopes (the union of all `require_scope` calls).
    all: ScopeSet,
    /// For each `require_any_scope`: at least one of its scopes.
    any: Box<[ScopeSet]>,
    /// `require` and `check`, in the order they were added.
    checks: Box<[Check<T>]>,
    /// Checks were added for another claims type, before `with_claims`: they cannot run on
    /// these claims, so every token is refused (fail closed).
    orphaned: bool,
}

impl<T> Clone for Rules<T> {
    fn clone(&self) -> Self {
        Self {
            all: self.all.clone(),
            any: self.any.clone(),
            checks: self.checks.clone(),
            orphaned: self.orphaned,
        }
    }
}

impl<T> Default for Rules<T> {
    fn default() -> Self {
        Self {
            all: ScopeSet::default(),
            any: Box::default(),
            checks: Box::default(),
            orphaned: false,
        }
    }
}

impl<T> fmt::Debug for Rules<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rules")
            .field("all_scopes", &self.all.joined)
            .field(
                "any_scope",
                &self.any.iter().map(|s| &*s.joined).collect::<Vec<_>>(),
            )
            .field("checks", &self.checks.len())
            .field("orphaned", &self.orphaned)
            .finish()
    }
}

impl<T> Rules<T> {
    /// These rules with every scope of `scopes` also required.
    pub(crate) fn with_all(&self, scopes: impl IntoIterator<Item = String>) -> Self {
        let mut rules = self.clone();
        rules.all = ScopeSet::new(self.all.scopes.iter().map(|s| s.to_string()).chain(scopes));
        rules
    }

    /// These rules with one more rule: at least one scope of `scopes`. No scope at all is a
    /// rule no token passes.
    pub(crate) fn with_any(&self, scopes: impl IntoIterator<Item = String>) -> Self {
        let mut rules = self.clone();
        let mut any = rules.any.into_vec();
        any.push(ScopeSet::new(scopes));
        rules.any = any.into_boxed_slice();
        rules
    }

    /// These rules with one more check on the claims.
    pub(crate) fn with_check(&self, check: Check<T>) -> Self {
        let mut rules = self.clone();
        let mut checks = rules.checks.into_vec();
        checks.push(check);
        rules.checks = checks.into_boxed_slice();
        rules
    }

    /// The rules for claims of another type: the scopes carry over; checks written for `T`
    /// cannot, so a layer that had some refuses every token.
    pub(crate) fn retyped<U>(&self) -> Rules<U> {
        let orphaned = self.orphaned || !self.checks.is_empty();
        if orphaned && !self.orphaned {
            tracing::error!(
                "`BearerAuthLayer::with_claims` after `require` or `check`: the checks were \
                 written for the previous claims type, so this layer refuses every token; \
                 call `with_claims` first"
            );
        }
        Rules {
            all: self.all.clone(),
            any: self.any.clone(),
            checks: Box::default(),
            orphaned,
        }
    }

    /// The first rule `claims` fails, in order: all-of scopes, any-of scopes, checks.
    pub(crate) fn check(&self, claims: &Claims<T>) -> Result<(), AuthError> {
        if self.orphaned {
            return Err(AuthError::InsufficientScope(Cow::Borrowed("")));
        }
        if !claims.has_all_scopes(self.all.scopes.iter().map(|s| &**s)) {
            return Err(self.all.refusal());
        }
        for set in &self.any {
            if !set.scopes.iter().any(|s| claims.has_scope(s)) {
                return Err(set.refusal());
            }
        }
        for check in &self.checks {
            check(claims)?;
        }
        Ok(())
    }
}

/// A `require` predicate as a check: `false` is 403 `insufficient_scope`, naming no scope.
pub(crate) fn predicate<T>(
    predicate: impl Fn(&Claims<T>) -> bool + Send + Sync + 'static,
) -> Check<T> {
    Arc::new(move |claims| {
        if predicate(claims) {
            Ok(())
        } else {
            Err(AuthError::InsufficientScope(Cow::Borrowed("")))
        }
    })
}

/// A `check` of the application: its error is the refusal.
pub(crate) fn check<T, E>(
    check: impl Fn(&Claims<T>) -> Result<(), E> + Send + Sync + 'static,
) -> Check<T>
where
    E: Into<Denied>,
{
    Arc::new(move |claims| check(claims).map_err(|err| AuthError::Denied(err.into())))
}
