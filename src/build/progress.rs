//! The step labels of BuildKit's plain progress: `[NAME K/TOTAL]`, NAME
//! being the stage's `AS` name, else `stage-N`, left out when the file has
//! one stage; K padded to TOTAL's width (`[ 3/12]`). Pure.

/// The label of step `k` (1-based) of `total` in stage `n` of `count`.
pub fn step_label(
    stage: (usize, Option<&str>),
    count: usize,
    (k, total): (usize, usize),
) -> String {
    let width = total.to_string().len();
    let name = match (count > 1, stage.1) {
        (false, _) => String::new(),
        (true, Some(name)) => format!("{name} "),
        (true, None) => format!("stage-{} ", stage.0),
    };
    format!("[{name}{k:>width$}/{total}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_the_stage_as_buildkit_does() {
        assert_eq!(step_label((0, Some("app")), 1, (1, 2)), "[1/2]");
        assert_eq!(step_label((0, Some("build")), 2, (2, 4)), "[build 2/4]");
        assert_eq!(step_label((1, None), 2, (3, 5)), "[stage-1 3/5]");
        assert_eq!(step_label((1, None), 2, (3, 12)), "[stage-1  3/12]");
    }
}
