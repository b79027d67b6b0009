//! Adopting a `--restart` container whose monitor was killed: the next
//! rcorch command starts it again on its record (same rootfs, volumes,
//! name and ports) under a new detached monitor, as Docker's daemon
//! restarts such containers when it comes back.

use super::monitor::Monitor;
use super::mounts::{cgroup_mounts, plan_mounts};
use super::restarts::RestartContext;
use super::run::{self, RunError};
use super::stdio::StdioRequest;
use super::{caps, net};
use crate::container::ContainerConfig;
use crate::instance::Instance;
use crate::volume::store::VolumeStore;

/// Starts `config`'s container again; `restarts` is its new RestartCount.
pub fn relaunch(
    instance: &Instance,
    config: &ContainerConfig,
    restarts: u32,
) -> Result<(), RunError> {
    let images = instance.images()?;
    let caps = caps::launch_set(&config.cap_add, &config.cap_drop)?;
    let seccomp = run::seccomp_filter(config)?;
    let layout = instance.cgroup_layout()?;
    let ports = net::check_ports(instance, config, &images)?;
    let cgroup = crate::cgroups::container_manager(
        &layout,
        config.cgroup_manager,
        &config.cgroup_parent,
        &config.id,
    )?;
    let mut network = net::attach(instance, config, ports)?;
    cgroup.apply_limits(&config.limits)?;
    cgroup.set_devices(&run::device_access(config))?;
    let paths = run::container_paths(&instance.containers.container_dir(&config.id));
    if let Some(net) = &network {
        net.write_files(&paths, &config.hostname)?;
        run::add_hosts(&paths, config, Some(net))?;
    }
    let plug = |pid| network.as_ref().map_or(Ok(()), |n| n.plug(pid));
    let mut mounts = plan_mounts(config, &paths, cgroup_mounts(&layout));
    let host_devices = super::mounts_devices::host_devices_for(config);
    super::mounts_devices::adjust(&mut mounts, config, &host_devices);
    let mut plan = run::init_plan(config, paths, mounts, cgroup.as_ref(), (caps, seccomp));
    let release_network = || {
        let _ = net::release(&instance.root, &config.id, true);
    };
    let volumes = VolumeStore::open(&instance.root);
    let monitor = Monitor {
        store: &instance.containers,
        volumes: &volumes,
        config,
        cgroup: cgroup.as_ref(),
        namespaces: run::namespaces(config),
        before_setup: network.is_some().then_some(&plug as &dyn Fn(_) -> _),
        restart: RestartContext {
            foreground: false,
            after_exit: None,
        },
        restarts,
    };
    let stdio = StdioRequest::detached(config, &instance.containers.container_dir(&config.id));
    let outcome =
        super::detach::spawn_detached_monitor(&monitor, &mut plan, &stdio, &release_network);
    match &outcome {
        Ok(()) => {
            if let Some(net) = network.as_mut() {
                net.started();
                net.disarm();
            }
        }
        Err(RunError::Fork(_)) => {
            let _ = cgroup.destroy();
        }
        Err(_) => {} // the monitor recorded why and cleaned up
    }
    outcome
}
