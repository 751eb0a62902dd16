//! One BEAM for the build env, once every step is planned: the readers of
//! `_build/<env>` (`Action::Reader`: xref, format, assets.deploy) go into
//! compile's `mix do` after its own parts, and each reader's step takes
//! its part's output from there (`exec::Guest`). On Elixir 1.18 every Mix
//! task that loads the project takes the build lock, so readers started
//! side by side after compile would boot and then wait on each other; in
//! the chain they run one after the other in the BEAM that already holds
//! it. What stays its own process in the build env after compile (an npm
//! layout's `mix assets.deploy`, the migrations session) is ordered, not
//! run side by side. docs/architecture.md has the measurements.

use crate::ids::StepId;
use crate::plan::{Action, Cmd, Guest, StepPlan};

pub fn fuse(plans: &mut [StepPlan]) {
    join_compile(plans);
    order_after_compile(plans);
}

/// Moves the build env's readers into compile's `mix do`.
fn join_compile(plans: &mut [StepPlan]) {
    let Some(h) = plans
        .iter()
        .position(|p| p.id == StepId::Compile && p.skip.is_none())
    else {
        return;
    };
    let Some(host) = host_cmd(&plans[h]) else {
        return;
    };
    let mut guests = Vec::new();
    for plan in plans.iter_mut().filter(|p| p.id != StepId::Compile) {
        let id = plan.id;
        // Only a first phase: a later one follows its own step's earlier
        // phases (npm before `mix assets.deploy`), which compile does not.
        let Some(first) = plan.phases.first_mut() else {
            continue;
        };
        let needs_build = first.needs.contains(&StepId::Compile);
        for action in &mut first.actions {
            let Action::Reader(cmd) = action else {
                continue;
            };
            if !same_env(cmd, &host) {
                continue;
            }
            let guest = Guest::new(id, StepId::Compile, cmd.clone());
            *action = Action::Take(guest.clone());
            guests.push((needs_build, guest));
        }
        // The step takes its part once compile has ended, passed or not (a
        // failed compile must not keep format from telling its part).
        if guests.iter().any(|(_, g)| g.owner == id) && !needs_build {
            first.after.push(StepId::Compile);
        }
    }
    // Readers of the build first, then those of the sources only: a
    // failing source check (format) then stops nothing after it.
    guests.sort_by_key(|(needs_build, _)| !needs_build);
    let guests: Vec<Guest> = guests.into_iter().map(|(_, g)| g).collect();
    if !guests.is_empty() {
        attach(&mut plans[h], guests);
    }
}

/// The command compile's chain runs as: its `mix do`'s first part.
fn host_cmd(plan: &StepPlan) -> Option<Cmd> {
    plan.phases.first()?.actions.iter().find_map(|a| match a {
        Action::Chain(c) => c.parts.first().cloned(),
        Action::Run(cmd) if cmd.program == "mix" => Some(cmd.clone()),
        _ => None,
    })
}

/// Whether `cmd` can run in the host's BEAM: the same dir and variables.
fn same_env(cmd: &Cmd, host: &Cmd) -> bool {
    cmd.program == "mix"
        && cmd.dir == host.dir
        && cmd.env == host.env
        && cmd.late_env.is_empty()
        && cmd.stdin_env.is_none()
        && !cmd.templated
}

fn attach(plan: &mut StepPlan, guests: Vec<Guest>) {
    let Some(phase) = plan.phases.first_mut() else {
        return;
    };
    for action in &mut phase.actions {
        match action {
            Action::Chain(c) => {
                c.guests = guests;
                return;
            }
            Action::Run(cmd) if cmd.program == "mix" => {
                let parts = vec![cmd.clone()];
                *action = Action::Chain(crate::plan::Chain {
                    parts,
                    exclusive: None,
                    guests,
                });
                return;
            }
            _ => {}
        }
    }
}

/// What stays its own Mix process of the build env after compile (an npm
/// layout's `mix assets.deploy`, a hex layout's before its binaries are
/// installed, `mix gettext.extract`, `mix docs`, the migrations session)
/// would start when compile ends and wait on the others' build lock: each
/// starts after the ones before it in this order instead. Gettext already
/// runs after docs (its extractor forces a recompile: steps/gettext.rs).
const OWN_PROCESS_ORDER: [StepId; 4] = [
    StepId::Assets,
    StepId::Docs,
    StepId::Gettext,
    StepId::Migrations,
];

fn order_after_compile(plans: &mut [StepPlan]) {
    let mut before: Vec<StepId> = Vec::new();
    for id in OWN_PROCESS_ORDER {
        // A step that already waits for `id` is not made its wait too.
        let waits_for_id: Vec<StepId> = plans
            .iter()
            .filter(|p| {
                p.phases
                    .iter()
                    .any(|ph| ph.after.contains(&id) || ph.needs.contains(&id))
            })
            .map(|p| p.id)
            .collect();
        let Some(plan) = plans.iter_mut().find(|p| p.id == id && p.skip.is_none()) else {
            continue;
        };
        let mut has_own = false;
        for phase in plan.phases.iter_mut() {
            if !phase.needs.contains(&StepId::Compile) {
                continue;
            }
            // The migrations session is a Native action: its phase after
            // compile always boots the build env.
            if id == StepId::Migrations || phase.actions.iter().any(build_env_mix) {
                has_own = true;
                for b in &before {
                    if !phase.after.contains(b) && !waits_for_id.contains(b) {
                        phase.after.push(*b);
                    }
                }
            }
        }
        if has_own {
            before.push(id);
        }
    }
}

/// Whether `action` runs a Mix process of the build env by itself (not in
/// compile's chain, not in the test env).
fn build_env_mix(action: &Action) -> bool {
    let cmd = match action {
        Action::Run(c) | Action::Reader(c) | Action::RunUnless { cmd: c, .. } => c,
        Action::Always(inner) => return build_env_mix(inner),
        _ => return false,
    };
    cmd.program == "mix" && !cmd.env.iter().any(|(k, v)| k == "MIX_ENV" && v == "test")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::plan::Chain;

    fn mix(args: &[&str]) -> Cmd {
        Cmd::mix(Path::new("/app"), args)
    }

    fn compile() -> StepPlan {
        let parts = vec![mix(&["deps.compile"]), mix(&["compile"])];
        let chain = Action::Chain(Chain {
            parts,
            exclusive: None,
            guests: Vec::new(),
        });
        StepPlan::new(StepId::Compile, &[StepId::Deps], vec![chain], "")
    }

    fn reader(id: StepId, needs: &[StepId], args: &[&str]) -> StepPlan {
        StepPlan::new(id, needs, vec![Action::Reader(mix(args))], "")
    }

    fn lines(plans: &[StepPlan]) -> Vec<String> {
        plans
            .iter()
            .flat_map(|p| p.phases.iter().flat_map(|ph| &ph.actions))
            .map(|a| a.describe(Path::new("/app")))
            .collect()
    }

    #[test]
    fn readers_join_compiles_mix_do_build_readers_first() {
        let (d, dc) = ([StepId::Deps], [StepId::Deps, StepId::Compile]);
        let mut plans = vec![
            reader(StepId::Format, &d, &["format", "--check-formatted"]),
            compile(),
            reader(StepId::Xref, &dc, &["xref", "graph"]),
        ];
        fuse(&mut plans);
        assert_eq!(
            lines(&plans),
            [
                "$ mix format --check-formatted  [in compile's `mix do`]",
                "$ mix do deps.compile + compile + xref graph + format --check-formatted",
                "$ mix xref graph  [in compile's `mix do`]",
            ]
        );
        // Format reads the sources only: it waits for compile's end, not
        // its success, and runs alone if the chain stopped before it.
        assert_eq!(plans[0].phases[0].needs, d);
        assert_eq!(plans[0].phases[0].after, [StepId::Compile]);
        assert!(plans[2].phases[0].after.is_empty());
    }

    #[test]
    fn without_compile_a_reader_runs_alone() {
        let mut plans = vec![reader(StepId::Xref, &[StepId::Compile], &["xref", "graph"])];
        fuse(&mut plans);
        assert!(matches!(plans[0].phases[0].actions[0], Action::Reader(_)));
        assert_eq!(lines(&plans), ["$ mix xref graph"]);
    }

    #[test]
    fn another_env_or_a_skipped_compile_is_not_joined() {
        let mut test_env = reader(StepId::Docs, &[StepId::Compile], &["docs"]);
        test_env.phases[0].actions = vec![Action::Reader(mix(&["docs"]).env("MIX_ENV", "test"))];
        let mut plans = vec![compile(), test_env];
        fuse(&mut plans);
        assert!(matches!(plans[1].phases[0].actions[0], Action::Reader(_)));
        let mut plans = vec![
            StepPlan::skipped(StepId::Compile, "off"),
            reader(StepId::Xref, &[StepId::Compile], &["xref"]),
        ];
        fuse(&mut plans);
        assert!(matches!(plans[1].phases[0].actions[0], Action::Reader(_)));
    }

    #[test]
    fn the_migrations_session_waits_for_a_deploy_of_its_own() {
        let npm = Action::Run(Cmd::new("npm", Path::new("/app")).arg("ci"));
        let deploy = Action::Run(mix(&["assets.deploy"]));
        let assets = StepPlan::new(StepId::Assets, &[], vec![npm], "")
            .then(&[StepId::Compile], vec![deploy]);
        let session = Action::Native {
            describe: "session".into(),
            run: Box::new(|_| Ok(())),
        };
        let migrations = StepPlan::new(StepId::Migrations, &[], Vec::new(), "")
            .then(&[StepId::Deps, StepId::Compile], vec![session]);
        let mut plans = vec![compile(), assets, migrations];
        fuse(&mut plans);
        assert!(plans[2].phases[0].after.is_empty());
        assert_eq!(plans[2].phases[1].after, [StepId::Assets]);
    }

    /// A hex layout's first phase holds `mix assets.deploy` itself when its
    /// binaries are not installed yet (a cold CI runner); `mix docs` and
    /// `mix gettext.extract` are their own processes too.
    #[test]
    fn own_processes_of_the_build_env_start_one_after_another() {
        let dc = [StepId::Deps, StepId::Compile];
        let own = |id, args: &[&str]| StepPlan::new(id, &dc, vec![Action::Run(mix(args))], "");
        let session = Action::Native {
            describe: "session".into(),
            run: Box::new(|_| Ok(())),
        };
        let mut plans = vec![
            compile(),
            StepPlan::new(StepId::Migrations, &dc, vec![session], ""),
            own(StepId::Docs, &["docs"]),
            own(StepId::Assets, &["assets.deploy"]),
            reader(StepId::Xref, &dc, &["xref", "graph"]),
            own(StepId::Gettext, &["gettext.extract"]).after(&[StepId::Docs]),
        ];
        fuse(&mut plans);
        let after = |i: usize| plans[i].phases[0].after.clone();
        assert_eq!(after(3), []);
        assert_eq!(after(2), [StepId::Assets]);
        assert_eq!(after(5), [StepId::Docs, StepId::Assets]);
        assert_eq!(after(1), [StepId::Assets, StepId::Docs, StepId::Gettext]);
        // A chained reader is in compile's process, not its own.
        assert!(after(4).is_empty());
        // No step waits for one that waits for it.
        let mut plans = vec![
            compile(),
            own(StepId::Docs, &["docs"]).after(&[StepId::Gettext]),
            own(StepId::Gettext, &["gettext.extract"]),
        ];
        fuse(&mut plans);
        assert_eq!(plans[1].phases[0].after, [StepId::Gettext]);
        assert!(plans[2].phases[0].after.is_empty());
    }
}
