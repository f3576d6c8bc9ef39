//! The old home of eventlet's `GreenPool`, `GreenThread` and `listen()`, which now live in
//! [`crate::eventlet`] with the rest of eventlet's vocabulary. These re-exports keep the
//! `may_wsgi::green::...` paths working; there is one implementation.

pub use crate::eventlet::{listen, GreenPool, GreenThread};
