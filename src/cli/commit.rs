//! `commit [-m MSG] [-a AUTHOR] [-c CHANGE] [-p] CONTAINER [REPO[:TAG]]`.

use clap::Args;

use super::CliResult;
use crate::build::commit::{self, CommitRequest};
use crate::container::Status;
use crate::instance::Instance;
use crate::runtime::control::observed_status;

#[derive(Args, Debug)]
pub struct CommitArgs {
    /// Commit message (the history entry's comment)
    #[arg(short, long)]
    message: Option<String>,
    /// Author
    #[arg(short, long)]
    author: Option<String>,
    /// A Dockerfile line applied to the image's config (CMD, ENTRYPOINT,
    /// ENV, LABEL, WORKDIR, USER, EXPOSE, STOPSIGNAL)
    #[arg(short, long = "change", value_name = "CHANGE")]
    change: Vec<String>,
    /// Pause a running container while its layer is written (default true)
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pause: bool,
    container: String,
    /// REPO[:TAG] (default: an untagged image)
    reference: Option<String>,
}

pub fn commit(instance: &Instance, args: &CommitArgs) -> CliResult {
    let request = CommitRequest {
        container: args.container.clone(),
        reference: args.reference.clone(),
        message: args.message.clone(),
        author: args.author.clone(),
        changes: args.change.clone(),
    };
    // A consistent layer, as Docker's --pause: nothing writes while it is read.
    let id = instance.containers.resolve(&args.container)?;
    let record = instance.containers.load(&id)?;
    let paused = args.pause
        && observed_status(&record.state) == Status::Running
        && !crate::runtime::pause::is_paused(instance, &record)
        && crate::runtime::pause::pause(instance, &id).is_ok();
    let result = commit::commit(instance, &request);
    if paused {
        crate::runtime::pause::unpause(instance, &id)?;
    }
    println!("{}", result?.id);
    Ok(0)
}
