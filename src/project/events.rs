//! The project's event stream: what the supervisor did and why, one JSON
//! object per line, read by `rcorch events`.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::util::time::now_rfc3339;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub time: String,
    pub service: String,
    pub slot: u32,
    pub action: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub container: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The replica's container name when it was known (a surge replica's
    /// carries its `-rREV` suffix); empty in older logs.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

impl Event {
    pub fn new(service: &str, slot: u32, action: &str, container: &str, detail: String) -> Event {
        Event {
            time: now_rfc3339(),
            service: service.to_string(),
            slot,
            action: action.to_string(),
            container: container.to_string(),
            detail,
            name: String::new(),
        }
    }

    /// Slot 0 marks a service-wide event (no replica): shown as the service.
    pub fn line(&self) -> String {
        let name = match self.slot {
            0 => self.service.clone(),
            slot => format!("{}-{slot}", self.service),
        };
        let container = if self.container.is_empty() {
            String::new()
        } else {
            format!(" {}", &self.container)
        };
        format!(
            "{} {name} {}{container} {}",
            self.time, self.action, self.detail
        )
        .trim_end()
        .to_string()
    }
}

/// Appends one event; failures to log never stop the supervisor.
pub fn append(path: &Path, event: &Event) {
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let mut line = serde_json::to_vec(event).expect("plain data serialises");
        line.push(b'\n');
        let _ = file.write_all(&line);
    }
}

pub fn read(path: &Path) -> Vec<Event> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}
