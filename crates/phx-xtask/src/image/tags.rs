//! Image tags and OCI labels for `cargo xtask image`, computed the way docker/metadata-action does.
//!
//! The tag set is what metadata-action v5 gives for this `tags:` input, in its priority order
//! (semver 900, ref 600, raw 200, sha 100; the first tag is the image's version):
//!
//! ```text
//! type=ref,event=branch            type=semver,pattern={{version}}
//! type=ref,event=tag               type=semver,pattern={{major}}.{{minor}}
//! type=ref,event=pr                type=semver,pattern={{major}},enable=<not 0.x>
//! type=raw,value=latest,enable={{is_default_branch}}
//! type=sha,prefix={{branch}}-  (type=sha on a tag or a detached HEAD)
//! type=sha,format=long
//! ```
//!
//! plus `flavor: latest=auto`, which adds `latest` for a tag event unless it is a semver pre-release.

/// What git (and, in CI, GitHub's environment) says about the commit being built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitFacts {
    /// The checked-out branch; `None` on a detached HEAD.
    pub branch: Option<String>,
    /// The remote's default branch (from `origin/HEAD`), which alone earns `latest`.
    pub default_branch: Option<String>,
    /// The tag that points exactly at HEAD, if any.
    pub tag: Option<String>,
    /// The full commit SHA of HEAD.
    pub sha: String,
    /// Uncommitted changes: the image is not that commit, so its tags must say so.
    pub dirty: bool,
}

/// Docker refuses tags longer than this (the tag grammar is `[\w][\w.-]{0,127}`).
const MAX_TAG_LEN: usize = 128;
/// metadata-action's default short SHA length (DOCKER_METADATA_SHORT_SHA_LENGTH unset).
const SHORT_SHA_LEN: usize = 7;

/// Fills in the ref and SHA GitHub Actions checked out, because `actions/checkout` leaves a
/// detached HEAD: git alone then knows neither the branch nor (with a shallow clone) the tag.
/// The environment only describes HEAD when GITHUB_SHA is HEAD, so a different SHA is ignored.
pub fn from_github_env(vars: &[(String, String)], mut git: GitFacts) -> GitFacts {
    let get = |key: &str| {
        vars.iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    if git.sha.is_empty() {
        git.sha = get("GITHUB_SHA").unwrap_or_default().to_string();
    }
    if get("GITHUB_SHA").is_some_and(|sha| sha != git.sha) || git.branch.is_some() {
        return git;
    }
    match (get("GITHUB_REF_TYPE"), get("GITHUB_REF_NAME")) {
        (Some("branch"), Some(name)) => {
            git.branch = Some(pull_request_ref(name).unwrap_or_else(|| name.to_string()))
        }
        (Some("tag"), Some(name)) if git.tag.is_none() => git.tag = Some(name.to_string()),
        _ => {}
    }
    git
}

/// A pull_request run's ref name is `<number>/merge`; metadata-action's `type=ref,event=pr`
/// tags it `pr-<number>`, so that is the "branch" the image is tagged with.
fn pull_request_ref(name: &str) -> Option<String> {
    let number = name.strip_suffix("/merge")?;
    (!number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("pr-{number}"))
}

/// The image tags, most significant first: `tags(..)[0]` is the version. A dirty tree gets
/// `-dirty` on every tag and never `latest`, so a local experiment cannot pass for a release.
pub fn tags(git: &GitFacts) -> Vec<String> {
    let suffix = if git.dirty { "-dirty" } else { "" };
    let mut out: Vec<String> = Vec::new();
    for (head, tail) in tag_parts(git) {
        if git.dirty && head == "latest" {
            continue;
        }
        let tag = docker_tag(&head, &format!("{tail}{suffix}"));
        if !tag.is_empty() && !out.contains(&tag) {
            out.push(tag);
        }
    }
    out
}

/// The unsanitized tags as (head, tail) pairs: only the head is sanitized and shortened, so a
/// long branch name cannot cut the SHA off `<branch>-<sha>`.
fn tag_parts(git: &GitFacts) -> Vec<(String, String)> {
    let mut parts = Vec::new();
    // flavor latest=auto: the first entry that produces a tag decides whether `latest` follows.
    let mut latest = false;
    if let Some(tag) = &git.tag {
        let semver = parse_semver(tag);
        if let Some(v) = &semver {
            parts.extend(semver_tags(v).into_iter().map(|t| (t, String::new())));
        }
        parts.push((tag.clone(), String::new()));
        latest = semver.is_none_or(|v| v.pre.is_none());
    } else if let Some(branch) = &git.branch {
        parts.push((branch.clone(), String::new()));
        if git.default_branch.as_ref() == Some(branch) {
            parts.push(("latest".to_string(), String::new()));
        }
    }
    if !git.sha.is_empty() {
        let short = &git.sha[..git.sha.len().min(SHORT_SHA_LEN)];
        // `{{branch}}` is empty on a tag event, where metadata-action would emit `-<sha>`, which
        // Docker rejects; the plain `sha-` prefix is type=sha's own default.
        match (&git.tag, &git.branch) {
            (None, Some(branch)) => parts.push((branch.clone(), format!("-{short}"))),
            _ => parts.push((format!("sha-{short}"), String::new())),
        }
        parts.push((format!("sha-{}", git.sha), String::new()));
    }
    if latest {
        parts.push(("latest".to_string(), String::new()));
    }
    parts
}

/// `type=semver` with patterns `{{version}}`, `{{major}}.{{minor}}` and `{{major}}`. A
/// pre-release only ever yields `{{version}}`; `{{major}}` is left out for 0.x, as the
/// metadata-action README advises, because 0.y releases promise no compatibility.
fn semver_tags(v: &Semver) -> Vec<String> {
    if let Some(pre) = &v.pre {
        return vec![format!("{}.{}.{}-{pre}", v.major, v.minor, v.patch)];
    }
    let mut tags = vec![
        format!("{}.{}.{}", v.major, v.minor, v.patch),
        format!("{}.{}", v.major, v.minor),
    ];
    if v.major > 0 {
        tags.push(v.major.to_string());
    }
    tags
}

/// metadata-action's sanitizeTag (every run of characters outside `[A-Za-z0-9._-]` becomes one
/// `-`; case is kept, since tags may hold upper case), plus the two rules of Docker's grammar
/// the action leaves to the registry: no leading `.` or `-`, and at most 128 characters.
fn docker_tag(head: &str, tail: &str) -> String {
    let mut clean = String::with_capacity(head.len());
    let mut in_run = false;
    for c in head.chars() {
        let valid = c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if valid {
            clean.push(c);
        } else if !in_run {
            clean.push('-');
        }
        in_run = !valid;
    }
    let mut clean = clean.trim_start_matches(['.', '-']).to_string();
    clean.truncate(MAX_TAG_LEN.saturating_sub(tail.len()));
    if clean.is_empty() {
        return String::new();
    }
    clean + tail
}

/// A version as node-semver's strict `valid()` accepts it (what metadata-action checks): an
/// optional `v`, three numbers without leading zeros, an optional pre-release and build.
#[derive(Debug, PartialEq, Eq)]
struct Semver {
    major: u64,
    minor: u64,
    patch: u64,
    pre: Option<String>,
}

fn parse_semver(tag: &str) -> Option<Semver> {
    let text = tag.strip_prefix('v').unwrap_or(tag);
    let (text, build) = match text.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (text, None),
    };
    if build.is_some_and(|b| {
        !b.split('.')
            .all(|id| !id.is_empty() && id.bytes().all(is_ident_byte))
    }) {
        return None;
    }
    let (core, pre) = match text.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (text, None),
    };
    if pre.is_some_and(|p| !p.split('.').all(valid_prerelease_id)) {
        return None;
    }
    let numbers: Vec<u64> = core.split('.').map(numeric_id).collect::<Option<_>>()?;
    let [major, minor, patch] = numbers[..] else {
        return None;
    };
    Some(Semver {
        major,
        minor,
        patch,
        pre: pre.map(str::to_string),
    })
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// `0` or a number without a leading zero: `01` is not semver.
fn numeric_id(id: &str) -> Option<u64> {
    let ok = !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_digit())
        && (id == "0" || !id.starts_with('0'));
    if ok {
        id.parse().ok()
    } else {
        None
    }
}

fn valid_prerelease_id(id: &str) -> bool {
    let all_digits = !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit());
    if all_digits {
        numeric_id(id).is_some()
    } else {
        !id.is_empty() && id.bytes().all(is_ident_byte)
    }
}

/// The OCI labels metadata-action sets that we can know offline, sorted by key as it sorts them.
/// `source` and `url` are both the repository's web page, as the action sets them from the
/// GitHub API's `html_url`; `title` is the repository's name there. `created` is RFC 3339.
pub fn labels(
    git: &GitFacts,
    source: Option<&str>,
    title: &str,
    created: &str,
) -> Vec<(String, String)> {
    let version = version(git);
    let mut labels = vec![
        ("created", created.to_string()),
        ("revision", git.sha.clone()),
        ("title", title.to_string()),
        ("version", version),
    ];
    if let Some(url) = source {
        labels.push(("source", url.to_string()));
        labels.push(("url", url.to_string()));
    }
    let mut labels: Vec<(String, String)> = labels
        .into_iter()
        .map(|(k, v)| (format!("org.opencontainers.image.{k}"), v))
        .collect();
    labels.sort();
    labels
}

/// The release's version: the first tag of a tagged commit (`1.2.3`);
/// else the one that names the revision (`main-0123456`, `sha-0123456`),
/// so two releases of one branch never share a version in `deploy status`
/// and `rollback --to`.
pub fn version(git: &GitFacts) -> String {
    let all = tags(git);
    let short = &git.sha[..git.sha.len().min(SHORT_SHA_LEN)];
    let with_revision = match (&git.tag, short.is_empty()) {
        (None, false) => all
            .iter()
            .find(|t| t.ends_with(short) || t.ends_with(&format!("{short}-dirty"))),
        _ => None,
    };
    with_revision.or(all.first()).cloned().unwrap_or_default()
}

/// The repository's web address from a git remote: `git@github.com:o/r.git`,
/// `ssh://git@host/o/r`, `https://github.com/o/r(.git)`. Credentials in the remote
/// (`https://x:TOKEN@…`) are dropped, because this address ends up in an image label.
pub fn repo_url(remote: &str) -> Option<String> {
    let remote = remote.trim();
    let (host, path) = match remote.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/')?;
            let host = authority.rsplit('@').next()?;
            // An ssh port is not the web server's port; an http(s) one is.
            let host = if matches!(scheme, "http" | "https") {
                host
            } else {
                host.split(':').next()?
            };
            (host, path)
        }
        // scp-like syntax, `[user@]host:path`; a bare local path has no colon.
        None => {
            let (authority, path) = remote.split_once(':')?;
            (authority.rsplit('@').next()?, path)
        }
    };
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let segments = path.split('/').filter(|s| !s.is_empty()).count();
    let valid = !host.is_empty() && segments >= 2 && !host.contains('/');
    valid.then(|| format!("https://{host}/{path}"))
}

/// `ghcr.io/<owner>/<repo>`, lower-cased because image names may not hold upper case; only for
/// GitHub remotes, since GitHub's registry is the one a GitHub repository can push to with its token.
pub fn default_registry(remote: &str) -> Option<String> {
    let url = repo_url(remote)?;
    let path = url.strip_prefix("https://github.com/")?;
    let mut segments = path.split('/');
    let (owner, repo) = (segments.next()?, segments.next()?);
    segments
        .next()
        .is_none()
        .then(|| format!("ghcr.io/{owner}/{repo}").to_lowercase())
}

/// `image:tag` for each tag, as `docker build --tag` takes them.
pub fn image_refs(image: &str, tags: &[String]) -> Vec<String> {
    tags.iter().map(|tag| format!("{image}:{tag}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn facts(branch: Option<&str>, tag: Option<&str>, dirty: bool) -> GitFacts {
        GitFacts {
            branch: branch.map(str::to_string),
            default_branch: Some("main".to_string()),
            tag: tag.map(str::to_string),
            sha: SHA.to_string(),
            dirty,
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn tags_follow_metadata_action() {
        let long = format!("sha-{SHA}");
        let cases: &[(&str, GitFacts, Vec<&str>)] = &[
            (
                "default branch",
                facts(Some("main"), None, false),
                vec!["main", "latest", "main-0123456", &long],
            ),
            (
                "other branch",
                facts(Some("develop"), None, false),
                vec!["develop", "develop-0123456", &long],
            ),
            (
                "slash and upper case",
                facts(Some("Feature/ABC_1"), None, false),
                vec!["Feature-ABC_1", "Feature-ABC_1-0123456", &long],
            ),
            (
                "invalid run",
                facts(Some("fix/a@{b}"), None, false),
                vec!["fix-a-b-", "fix-a-b--0123456", &long],
            ),
            (
                "detached, no CI",
                facts(None, None, false),
                vec!["sha-0123456", &long],
            ),
            (
                "semver tag",
                facts(None, Some("v1.2.3"), false),
                vec![
                    "1.2.3",
                    "1.2",
                    "1",
                    "v1.2.3",
                    "sha-0123456",
                    &long,
                    "latest",
                ],
            ),
            (
                "0.x tag",
                facts(None, Some("v0.3.0"), false),
                vec!["0.3.0", "0.3", "v0.3.0", "sha-0123456", &long, "latest"],
            ),
            (
                "pre-release",
                facts(None, Some("v1.2.3-rc.1"), false),
                vec!["1.2.3-rc.1", "v1.2.3-rc.1", "sha-0123456", &long],
            ),
            (
                "tag on a branch",
                facts(Some("main"), Some("v2.0.0"), false),
                vec![
                    "2.0.0",
                    "2.0",
                    "2",
                    "v2.0.0",
                    "sha-0123456",
                    &long,
                    "latest",
                ],
            ),
            (
                "non-semver tag",
                facts(None, Some("release/2024"), false),
                vec!["release-2024", "sha-0123456", &long, "latest"],
            ),
            (
                "leading zero",
                facts(None, Some("v1.02.3"), false),
                vec!["v1.02.3", "sha-0123456", &long, "latest"],
            ),
        ];
        for (name, git, want) in cases {
            assert_eq!(tags(git), *want, "{name}");
        }
    }

    #[test]
    fn dirty_tree_marks_every_tag_and_drops_latest() {
        let long = format!("sha-{SHA}-dirty");
        assert_eq!(
            tags(&facts(Some("main"), None, true)),
            ["main-dirty", "main-0123456-dirty", long.as_str()]
        );
        assert_eq!(
            tags(&facts(None, Some("v1.2.3"), true)),
            [
                "1.2.3-dirty",
                "1.2-dirty",
                "1-dirty",
                "v1.2.3-dirty",
                "sha-0123456-dirty",
                long.as_str()
            ]
        );
    }

    #[test]
    fn long_branch_keeps_its_sha_within_128() {
        let git = facts(Some(&"b".repeat(200)), None, true);
        let all = tags(&git);
        assert!(all.iter().all(|t| t.len() <= MAX_TAG_LEN), "{all:?}");
        assert!(all[1].ends_with("b-0123456-dirty"), "{}", all[1]);
        assert_eq!(docker_tag("-.x", ""), "x");
    }

    #[test]
    fn github_env_fills_a_detached_head() {
        let detached = || facts(None, None, false);
        let push = env(&[
            ("GITHUB_REF_TYPE", "branch"),
            ("GITHUB_REF_NAME", "main"),
            ("GITHUB_SHA", SHA),
        ]);
        let got = from_github_env(&push, detached());
        assert_eq!(got.branch.as_deref(), Some("main"));
        assert_eq!(
            tags(&got),
            ["main", "latest", "main-0123456", &format!("sha-{SHA}")]
        );

        let tag = env(&[
            ("GITHUB_REF_TYPE", "tag"),
            ("GITHUB_REF_NAME", "v1.2.3"),
            ("GITHUB_SHA", SHA),
        ]);
        assert_eq!(
            from_github_env(&tag, detached()).tag.as_deref(),
            Some("v1.2.3")
        );

        let pr = env(&[
            ("GITHUB_REF_TYPE", "branch"),
            ("GITHUB_REF_NAME", "42/merge"),
            ("GITHUB_SHA", SHA),
        ]);
        assert_eq!(
            tags(&from_github_env(&pr, detached()))[..2],
            ["pr-42", "pr-42-0123456"]
        );

        // GITHUB_SHA names another commit than HEAD: the ref describes that one, not ours.
        let other = env(&[
            ("GITHUB_REF_TYPE", "branch"),
            ("GITHUB_REF_NAME", "main"),
            ("GITHUB_SHA", "ffff"),
        ]);
        assert_eq!(from_github_env(&other, detached()), detached());
        // A checked-out branch is what git says it is; the environment does not override it.
        assert_eq!(
            from_github_env(&push, facts(Some("dev"), None, false))
                .branch
                .as_deref(),
            Some("dev")
        );
        // No git SHA (a source tarball): GitHub's is taken.
        let no_sha = GitFacts {
            sha: String::new(),
            ..detached()
        };
        assert_eq!(from_github_env(&push, no_sha).sha, SHA);
    }

    #[test]
    fn semver_parsing_matches_node_semver_strict() {
        let ok = |s: &str| parse_semver(s).is_some();
        assert!(
            ok("v1.2.3") && ok("1.2.3") && ok("1.2.3-rc.1") && ok("1.2.3+build.5") && ok("0.0.0-0")
        );
        assert!(
            !ok("V1.2.3")
                && !ok("v1.2")
                && !ok("1.2.3.4")
                && !ok("01.2.3")
                && !ok("1.2.3-01")
                && !ok("1.2.3-")
        );
        assert_eq!(
            semver_tags(&parse_semver("v1.2.3+build.5").unwrap()),
            ["1.2.3", "1.2", "1"]
        );
    }

    #[test]
    fn labels_are_sorted_and_carry_the_version() {
        let git = facts(None, Some("v1.2.3"), false);
        let got = labels(
            &git,
            Some("https://github.com/o/r"),
            "r",
            "2025-01-02T03:04:05Z",
        );
        let want = [
            ("created", "2025-01-02T03:04:05Z"),
            ("revision", SHA),
            ("source", "https://github.com/o/r"),
            ("title", "r"),
            ("url", "https://github.com/o/r"),
            ("version", "1.2.3"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, v)| (format!("org.opencontainers.image.{k}"), v.to_string()))
            .collect();
        assert_eq!(got, want);
        let branch = labels(&facts(Some("feat/x"), None, true), None, "r", "t");
        // Untagged, the version names the revision: releases of one
        // branch differ.
        assert!(branch.contains(&(
            "org.opencontainers.image.version".into(),
            "feat-x-0123456-dirty".into()
        )));
        assert_eq!(version(&facts(Some("main"), None, false)), "main-0123456");
        assert_eq!(version(&facts(None, None, false)), "sha-0123456");
        assert_eq!(
            version(&facts(Some("main"), Some("v2.0.0"), false)),
            "2.0.0"
        );
        assert!(!branch.iter().any(|(k, _)| k.ends_with(".source")));
    }

    #[test]
    fn remotes_become_web_urls_and_registries() {
        let cases: &[(&str, Option<&str>, Option<&str>)] = &[
            (
                "git@github.com:Owner/Repo.git",
                Some("https://github.com/Owner/Repo"),
                Some("ghcr.io/owner/repo"),
            ),
            (
                "https://github.com/o/r.git",
                Some("https://github.com/o/r"),
                Some("ghcr.io/o/r"),
            ),
            (
                "https://github.com/o/r/",
                Some("https://github.com/o/r"),
                Some("ghcr.io/o/r"),
            ),
            (
                "https://x-access-token:s3cret@github.com/o/r",
                Some("https://github.com/o/r"),
                Some("ghcr.io/o/r"),
            ),
            (
                "ssh://git@github.com:22/o/r.git",
                Some("https://github.com/o/r"),
                Some("ghcr.io/o/r"),
            ),
            (
                "git@gitlab.com:group/sub/r.git",
                Some("https://gitlab.com/group/sub/r"),
                None,
            ),
            ("/srv/git/r.git", None, None),
            ("file:///srv/git/r.git", None, None),
            ("https://github.com/o", None, None),
        ];
        for (remote, url, registry) in cases {
            assert_eq!(repo_url(remote).as_deref(), *url, "{remote}");
            assert_eq!(default_registry(remote).as_deref(), *registry, "{remote}");
        }
        assert_eq!(image_refs("ghcr.io/o/r", &["1".into()]), ["ghcr.io/o/r:1"]);
    }
}
