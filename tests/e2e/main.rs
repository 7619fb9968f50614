//! Black-box tests, one binary. Add a module, not a file beside this one.

mod browser;
mod callcenter;
mod helpdesk;
mod php_golden;
mod signed_link;
