//! FROM: a stage's base — an earlier stage, `scratch`, or an image from the
//! store, pulled first when the store lacks it or the build asked `--pull`.

use super::*;
use crate::image::registry_io;

impl Builder<'_> {
    pub(super) fn base(
        &mut self,
        image: &str,
        done: &[(Option<String>, StageState)],
    ) -> Result<StageState, String> {
        let created = self.created();
        if let Some((_, s)) = done
            .iter()
            .find(|(name, _)| name.as_deref() == Some(&image.to_ascii_lowercase()))
        {
            // The key carries on from the parent stage's.
            let mut s = s.clone();
            s.image.created = created;
            s.cmd_set = false;
            return Ok(s);
        }
        let mut file = ImageFile {
            author: None,
            created,
            architecture: crate::image::oci::host_arch().into(),
            os: "linux".into(),
            config: RunConfig::default(),
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: vec![],
            },
            history: vec![],
        };
        if image == "scratch" {
            return Ok(StageState {
                image: file,
                layers: vec![],
                dirs: vec![],
                args: BTreeMap::new(),
                cmd_set: false,
                key: cache::next_key("", &["scratch"]),
            });
        }
        let record = self.base_record(image)?;
        let store = self.instance.images().map_err(|e| e.to_string())?;
        let blob = std::fs::read(store.blob_path(&record.id)).map_err(|e| e.to_string())?;
        let base: serde_json::Value = serde_json::from_slice(&blob).map_err(|e| e.to_string())?;
        file.config = serde_json::from_value(base["config"].clone()).unwrap_or_default();
        file.rootfs = serde_json::from_value(base["rootfs"].clone())
            .map_err(|e| format!("base image config: {e}"))?;
        file.history = serde_json::from_value(base["history"].clone()).unwrap_or_default();
        let mut dirs = store.layer_dirs(&record);
        dirs.reverse();
        Ok(StageState {
            image: file,
            layers: record.layers.clone(),
            dirs,
            args: BTreeMap::new(),
            cmd_set: false,
            key: cache::next_key("", &["image", &record.id]),
        })
    }

    /// The base image's record: pulled when the store lacks it, or (once per
    /// build) on `--pull`, as `docker build` does.
    fn base_record(&mut self, image: &str) -> Result<ImageRecord, String> {
        let store = self.instance.images().map_err(|e| e.to_string())?;
        let local = store.resolve(image);
        let want_pull = match &local {
            Ok(_) => self.req.pull && !self.pulled.contains(image),
            Err(_) => !self.pulled.contains(image),
        };
        let Some(access) = self.req.registry.as_ref().filter(|_| want_pull) else {
            return local.map_err(|e| format!("base image: {e}"));
        };
        self.note(&format!("pulling {image}"));
        self.pulled.insert(image.to_string());
        match registry_io::pull(&store, image, access) {
            Ok(record) => Ok(record),
            Err(e) => Err(match local {
                Ok(_) => format!("--pull: cannot pull base image {image}: {e}"),
                Err(missing) => {
                    format!("base image {image}: {missing}, and pulling it failed: {e}")
                }
            }),
        }
    }
}
