//! Container runtime pieces; for now the security profile (capabilities and seccomp).
pub mod caps;
pub mod seccomp;
