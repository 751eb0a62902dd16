//! The GitHub workflow `init` writes: one `ci` job, or with `--legs N` a
//! checks job, a matrix of N test legs and the merge (the shape of this
//! repository's own .github/workflows/ci.yml).

const ONE_JOB: &str = include_str!("../../templates/ci.yml");
const LEGS: &str = include_str!("../../templates/ci-legs.yml");

/// The workflow for an app at `prefix` (`""` or `"app/"`), whose PLTs live
/// in `plt_dir`, with the suite split over `legs` machines if given.
pub fn text(prefix: &str, plt_dir: &str, legs: Option<u32>) -> String {
    let template = match legs {
        Some(n) => {
            let list: Vec<String> = (1..=n).map(|k| k.to_string()).collect();
            LEGS.replace("{{legs}}", &format!("[{}]", list.join(", ")))
        }
        None => ONE_JOB.to_string(),
    };
    template
        .replace("{{app}}", prefix)
        .replace("{{plt_dir}}", plt_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legs_give_checks_a_matrix_and_the_merge() {
        let w = text("app/", "priv/plts", Some(4));
        assert!(w.contains("leg: [1, 2, 3, 4]"), "{w}");
        for run in [
            "run: nix develop --command cargo xtask ci --skip test",
            "run: nix develop --command cargo xtask test --partition ${{ matrix.leg }}/${{ strategy.job-total }} --timings app/_build/xtask/test-timings.json",
            "run: nix develop --command cargo xtask merge legs",
        ] {
            assert!(w.contains(run), "no `{run}` in:\n{w}");
        }
        assert!(w.contains("path: app/_build/xtask/shard-*") && w.contains("app/priv/plts"));
        assert!(
            !w.contains(" {{") && !w.contains("demo/"),
            "a placeholder is left:\n{w}"
        );
        let one = text("", "priv/plts", None);
        assert!(
            one.contains("run: nix develop --command cargo xtask ci\n") && !one.contains("merge")
        );
    }
}
