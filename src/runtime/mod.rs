//! The container runtime: namespaces, filesystem, security profile, the
//! per-container monitor, and the container verbs built on them.

pub mod caps;
pub mod changes;
pub mod check;
pub mod console;
pub mod control;
pub mod copy;
pub mod copy_stopped;
mod detach;
pub mod echo;
pub mod exec;
pub mod export;
mod files;
pub mod health_probe;
pub mod hooks;
pub mod init;
mod init_setup;
pub mod logs;
pub mod manage;
pub mod monitor;
pub mod mounts;
mod mounts_devices;
mod mounts_generic;
pub mod net;
pub mod orphans;
pub mod pause;
mod relaunch;
pub mod restarts;
pub mod run;
pub mod seccomp;
pub mod stdio;
pub mod sys;
pub mod update;
