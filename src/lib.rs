//! rcorch: a daemonless single-host container runtime with a mini-orchestrator.
//!
//! The library holds every concern; `main.rs` and `cli` only parse, call and print.

pub mod build;
pub mod cgroups;
pub mod cli;
pub mod compose;
pub mod container;
pub mod image;
pub mod instance;
pub mod kube;
pub mod metrics;
pub mod network;
pub mod oci;
pub mod project;
pub mod runtime;
pub mod supervisor;
pub mod system;
pub mod systemd;
pub mod util;
pub mod volume;
