//! `dashboard`'s screen as a pure function of plain data: the model a
//! refresh collects, the sample histories kept between refreshes, and the
//! lines drawn (so the same code prints `--no-stream`'s snapshot and each
//! frame on a terminal, and tests compare exact lines).

use std::collections::BTreeMap;
use std::time::Duration;

use super::stats::cpu_percent;

/// Samples kept per replica: the sparklines' width.
pub const HISTORY: usize = 30;

/// The block characters of a sparkline, lowest first.
const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// Events shown at the bottom.
pub const EVENT_LINES: usize = 8;

/// Everything one frame shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DashboardModel {
    pub project: String,
    /// The refresh's wall-clock time, as shown in the title.
    pub time: String,
    pub services: Vec<ServiceView>,
    pub replicas: Vec<ReplicaView>,
    pub backends: Vec<BackendView>,
    /// The supervisor's last events, oldest first, as `rcorch events` prints them.
    pub events: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceView {
    pub name: String,
    pub desired: u32,
    /// Wanted stopped (`stop`) until `start`: its replicas are kept down.
    pub stopped: bool,
    pub running: u32,
    /// Running replicas reported healthy; `None` without a health check.
    pub healthy: Option<u32>,
    /// Slots admission holds back: (`service.slot`, why).
    pub pending: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplicaView {
    pub name: String,
    pub history: History,
}

/// One balancer member and the established connections it holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BackendView {
    pub service: String,
    pub replica: String,
    pub address: String,
    /// Whether the balancer sends it new connections.
    pub member: bool,
    /// `None` when its network namespace could not be read.
    pub connections: Option<usize>,
    /// New connections the balancer sent it so far; `None` unless the
    /// project serves `/metrics`.
    pub selections: Option<u64>,
}

/// A replica's recent samples, newest last.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Cumulative CPU time at the last sample (ns), to rate the next one.
    pub cpu_ns: u64,
    pub cpu: Vec<f64>,
    pub memory: Vec<u64>,
    pub memory_limit: Option<u64>,
}

/// One replica's cgroup reading at a refresh.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub id: String,
    pub cpu_ns: u64,
    pub memory: u64,
    pub memory_limit: Option<u64>,
}

fn push_capped<T>(values: &mut Vec<T>, value: T) {
    values.push(value);
    if values.len() > HISTORY {
        values.remove(0);
    }
}

/// The histories after a refresh `wall` after the last one: each reading
/// appended (a replica's first has no CPU rate yet), replicas gone dropped.
pub fn advance(
    before: &BTreeMap<String, History>,
    readings: &[Reading],
    wall: Duration,
) -> BTreeMap<String, History> {
    readings
        .iter()
        .map(|r| {
            let mut h = before.get(&r.id).cloned().unwrap_or_default();
            if before.contains_key(&r.id) {
                push_capped(&mut h.cpu, cpu_percent(h.cpu_ns, r.cpu_ns, wall));
            }
            h.cpu_ns = r.cpu_ns;
            push_capped(&mut h.memory, r.memory);
            h.memory_limit = r.memory_limit;
            (r.id.clone(), h)
        })
        .collect()
}

/// `values` as block characters scaled to `ceiling` (0 → ▁, ceiling → █).
pub fn sparkline(values: &[f64], ceiling: f64) -> String {
    values
        .iter()
        .map(|v| {
            let level = match ceiling > 0.0 {
                true => (v / ceiling * 7.0).round().clamp(0.0, 7.0) as usize,
                false => 0,
            };
            BLOCKS[level]
        })
        .collect()
}

/// CPU is scaled to the window's peak, at least 1% of a CPU, so an idle
/// replica's noise stays flat; memory to its limit, else the window's peak.
fn cpu_line(h: &History) -> String {
    let peak = h.cpu.iter().copied().fold(1.0, f64::max);
    sparkline(&h.cpu, peak)
}

fn memory_line(h: &History) -> String {
    let values: Vec<f64> = h.memory.iter().map(|&m| m as f64).collect();
    let peak = values.iter().copied().fold(0.0, f64::max);
    sparkline(&values, h.memory_limit.map_or(peak, |l| l as f64))
}

fn mib(bytes: u64) -> String {
    format!("{:.1}MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn memory_text(h: &History) -> String {
    let now = h.memory.last().map_or("--".into(), |&m| mib(m));
    let limit = h.memory_limit.map_or("no limit".into(), mib);
    format!("{now} / {limit}")
}

/// Rows as columns padded to their widest cell (the last left unpadded).
fn columns(rows: &[Vec<String>]) -> Vec<String> {
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..count)
        .map(|i| {
            let cell = |r: &Vec<String>| r.get(i).map_or(0, |c| c.chars().count());
            rows.iter().map(cell).max().unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(i, c)| match i + 1 == row.len() {
                    true => c.clone(),
                    false => format!("{c:<w$}", w = widths[i]),
                })
                .collect();
            cells.join("  ").trim_end().to_string()
        })
        .collect()
}

fn owned(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

fn services(model: &DashboardModel) -> Vec<String> {
    let mut rows = vec![owned(&[
        "SERVICE", "DESIRED", "RUNNING", "HEALTHY", "PENDING",
    ])];
    for s in &model.services {
        let pending = s
            .pending
            .iter()
            .map(|(slot, why)| format!("{slot}: {why}"))
            .collect::<Vec<_>>()
            .join("; ");
        rows.push(vec![
            s.name.clone(),
            match s.stopped {
                true => format!("{} (stopped)", s.desired),
                false => s.desired.to_string(),
            },
            s.running.to_string(),
            s.healthy.map_or("-".into(), |h| h.to_string()),
            if pending.is_empty() {
                "-".into()
            } else {
                pending
            },
        ]);
    }
    columns(&rows)
}

/// The fewest samples a sparkline keeps on a narrow terminal.
const NARROWEST: usize = 8;

fn tail<T>(values: &[T], n: usize) -> &[T] {
    &values[values.len().saturating_sub(n)..]
}

/// The replicas' table, its sparklines as wide as `width` lets them be
/// (the last `NARROWEST` to `HISTORY` samples).
fn replicas(model: &DashboardModel, width: usize) -> Vec<String> {
    let text: Vec<[String; 3]> = model
        .replicas
        .iter()
        .map(|r| {
            let h = &r.history;
            let cpu = h.cpu.last().map_or("--".into(), |c| format!("{c:.2}%"));
            [r.name.clone(), cpu, memory_text(h)]
        })
        .collect();
    let header = ["REPLICA", "CPU %", "MEM USAGE / LIMIT"];
    let fixed: usize = (0..3)
        .map(|i| {
            text.iter()
                .map(|t| t[i].chars().count())
                .fold(header[i].len(), usize::max)
        })
        .sum();
    // Five columns, four gaps of two.
    let room = width.saturating_sub(fixed + 8) / 2;
    let n = room.clamp(NARROWEST, HISTORY);
    let title = |what: &str| format!("{what} (last {n} s)");
    let mut rows = vec![vec![
        header[0].to_string(),
        header[1].to_string(),
        format!("{:<n$}", title("CPU")),
        header[2].to_string(),
        title("MEM"),
    ]];
    for (r, [name, cpu, memory]) in model.replicas.iter().zip(text) {
        let h = &r.history;
        let shown = History {
            cpu: tail(&h.cpu, n).to_vec(),
            memory: tail(&h.memory, n).to_vec(),
            ..h.clone()
        };
        rows.push(vec![
            name,
            cpu,
            format!("{:<n$}", cpu_line(&shown)),
            memory,
            memory_line(&shown),
        ]);
    }
    columns(&rows)
}

fn backends(model: &DashboardModel) -> Vec<String> {
    let mut rows = vec![owned(&[
        "BACKEND",
        "SERVICE",
        "ADDRESS",
        "BALANCER",
        "CONNECTIONS",
        "SELECTED",
    ])];
    for b in &model.backends {
        rows.push(vec![
            b.replica.clone(),
            b.service.clone(),
            b.address.clone(),
            if b.member { "member" } else { "out" }.into(),
            b.connections.map_or("--".into(), |c| c.to_string()),
            b.selections.map_or("--".into(), |c| c.to_string()),
        ]);
    }
    columns(&rows)
}

/// The frame: at most `height` lines of at most `width` characters.
pub fn render(model: &DashboardModel, width: usize, height: usize) -> Vec<String> {
    let mut lines = vec![format!(
        "rcorch dashboard: project {}  {}  (q quits)",
        model.project, model.time
    )];
    if model.services.is_empty() {
        lines.push(String::new());
        lines.push("no services (is the project up?)".into());
    } else {
        lines.push(String::new());
        lines.extend(services(model));
        lines.push(String::new());
        lines.extend(replicas(model, width));
    }
    if !model.backends.is_empty() {
        lines.push(String::new());
        lines.extend(backends(model));
    }
    lines.push(String::new());
    lines.push("EVENTS".into());
    let skip = model.events.len().saturating_sub(EVENT_LINES);
    lines.extend(model.events[skip..].iter().cloned());
    lines.truncate(height);
    lines
        .into_iter()
        .map(|l| l.chars().take(width).collect())
        .collect()
}

#[cfg(test)]
#[path = "dashboard_view_tests.rs"]
mod tests;
