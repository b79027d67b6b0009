//! Image builds from Dockerfiles: the parser and linter (pure), the stage
//! evaluation, and the builder that runs RUN steps with rcorch's runtime and
//! commits each filesystem change as a layer. Sits above runtime and image,
//! below cli and project.

pub mod builder;
pub mod cache;
pub mod check;
pub mod chmod;
pub mod commit;
pub mod config;
pub mod copy;
pub mod dockerfile;
pub mod fetch;
pub mod ignore;
pub mod layer_tar;
pub mod live;
pub mod plan;
pub mod progress;
pub mod run_mounts;
pub mod stage;
pub mod stdin;
