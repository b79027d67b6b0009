//! Splitting manifest files into objects and checking each one's kind and
//! API version before anything is mapped.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::walk::PlayError;
use crate::compose::locate::KeyPath;

/// One object of a manifest file.
#[derive(Debug, Clone)]
pub struct Doc {
    pub file: Arc<Path>,
    /// The document's own text, for finding a field's line.
    pub text: String,
    /// The file line the document starts on (1-based).
    pub first_line: usize,
    pub kind: String,
    pub name: String,
    pub value: Value,
}

/// The kinds `kube play` runs, with the API version each must have.
const KINDS: &[(&str, &str)] = &[
    ("Pod", "v1"),
    ("Deployment", "apps/v1"),
    ("StatefulSet", "apps/v1"),
    ("DaemonSet", "apps/v1"),
    ("Job", "batch/v1"),
    ("Service", "v1"),
    ("ConfigMap", "v1"),
    ("Secret", "v1"),
    ("PersistentVolumeClaim", "v1"),
    ("HorizontalPodAutoscaler", "autoscaling/v2"),
    ("NetworkPolicy", "networking.k8s.io/v1"),
];

/// The documents of one file, each with the line it starts on; empty
/// documents (only comments, or a trailing `---`) are skipped.
fn split(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let (mut start, mut current) = (1, String::new());
    for (i, line) in text.lines().enumerate() {
        let marker = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
        if marker {
            out.push((start, std::mem::take(&mut current)));
            start = i + 2;
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    out.push((start, current));
    out
}

/// Every object of `text` (from `file`), or the first one that is not a
/// kind and API version rcorch runs.
pub fn parse_documents(file: &Path, text: &str) -> Result<Vec<Doc>, PlayError> {
    let file: Arc<Path> = Arc::from(file);
    let mut docs = Vec::new();
    for (first_line, text) in split(text) {
        let yaml: serde_norway::Value =
            serde_norway::from_str(&text).map_err(|source| PlayError::Yaml {
                file: file.to_path_buf(),
                line: first_line + source.location().map_or(0, |l| l.line().saturating_sub(1)),
                source,
            })?;
        if yaml.is_null() {
            continue;
        }
        let value: Value = serde_json::to_value(&yaml).map_err(|e| PlayError::Field {
            file: file.to_path_buf(),
            line: first_line,
            object: "document".into(),
            field: String::new(),
            message: format!("not a Kubernetes object: {e}"),
        })?;
        let mut doc = Doc {
            file: file.clone(),
            text,
            first_line,
            kind: String::new(),
            name: String::new(),
            value,
        };
        check_kind(&mut doc)?;
        docs.push(doc);
    }
    Ok(docs)
}

fn check_kind(doc: &mut Doc) -> Result<(), PlayError> {
    let root = KeyPath::root();
    doc.map(&doc.value, &root)?;
    let kind = doc.required_str(&doc.value, &root, "kind")?.to_string();
    let version = doc
        .required_str(&doc.value, &root, "apiVersion")?
        .to_string();
    doc.kind = kind.clone();
    let meta = doc
        .get(&doc.value, "metadata")
        .ok_or_else(|| doc.err(&root.key("metadata"), "required"))?;
    let name = doc
        .required_str(meta, &root.key("metadata"), "name")?
        .to_string();
    doc.name = name.clone();
    let Some((_, want)) = KINDS.iter().find(|(k, _)| *k == kind) else {
        let known: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
        return Err(doc.err(
            &root.key("kind"),
            format!(
                "kind {kind} is not supported; rcorch kube play runs {}",
                known.join(", ")
            ),
        ));
    };
    if version != *want {
        return Err(doc.err(
            &root.key("apiVersion"),
            format!("{kind} of API version {version} is not supported: use {want}"),
        ));
    }
    if name != super::super::dns_name(&name) {
        return Err(doc.err(
            &root.key("metadata").key("name"),
            format!("{name:?} is not a DNS label (lowercase letters, digits and '-')"),
        ));
    }
    Ok(())
}

/// The ConfigMaps, Secrets and claims by name, for the workloads that use them.
pub struct Index<'d> {
    pub by_kind: BTreeMap<(&'d str, &'d str), &'d Doc>,
}

impl<'d> Index<'d> {
    /// Two objects of one kind and name are an error, as in one namespace.
    pub fn new(docs: &'d [Doc]) -> Result<Self, PlayError> {
        let mut by_kind = BTreeMap::new();
        for d in docs {
            if let Some(first) = by_kind.insert((d.kind.as_str(), d.name.as_str()), d) {
                return Err(d.err(
                    &KeyPath::root().key("metadata").key("name"),
                    format!(
                        "defined twice (also at {}:{})",
                        first.file.display(),
                        first.first_line
                    ),
                ));
            }
        }
        Ok(Index { by_kind })
    }

    pub fn get(&self, kind: &str, name: &str) -> Option<&'d Doc> {
        self.by_kind.get(&(kind, name)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_start_on_their_lines_and_empty_ones_are_skipped() {
        let text = "# head\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: b\n";
        let docs = parse_documents(Path::new("m.yaml"), text).unwrap();
        let got: Vec<(&str, &str, usize)> = docs
            .iter()
            .map(|d| (d.kind.as_str(), d.name.as_str(), d.first_line))
            .collect();
        assert_eq!(got, [("ConfigMap", "a", 3), ("Secret", "b", 8)]);
    }

    #[test]
    fn an_unknown_kind_or_version_is_one_error_with_its_line() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\n";
        let e = parse_documents(Path::new("m.yaml"), text)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("m.yaml:6: CronJob c: kind: kind CronJob is not supported"),
            "{e}"
        );
        let text = "apiVersion: apps/v1beta2\nkind: Deployment\nmetadata: {name: d}\n";
        let e = parse_documents(Path::new("m.yaml"), text)
            .unwrap_err()
            .to_string();
        assert!(e.contains("m.yaml:1: Deployment d: apiVersion: Deployment of API version apps/v1beta2 is not supported: use apps/v1"), "{e}");
    }

    #[test]
    fn a_name_twice_is_an_error() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n";
        let docs = parse_documents(Path::new("m.yaml"), text).unwrap();
        let e = Index::new(&docs).err().unwrap().to_string();
        assert!(
            e.contains("ConfigMap a: metadata.name: defined twice (also at m.yaml:1)"),
            "{e}"
        );
    }
}
