//! The embedded DNS resolver (see `dns_server`).
