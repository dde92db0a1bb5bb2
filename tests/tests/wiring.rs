//! The EventBridge wiring, proven without AWS: every sample event under `events/` reaches exactly
//! the functions `events/routes.toml` names, through the rules of `infra/template.yaml` as a
//! deployment with the defaults creates them ([`reflex_tests::render`]: SAM's translator, then
//! the parameters and conditions applied), as matched by [`reflex_tests::pattern`]. "The rule
//! never fired" is the failure nothing reports; here it fails a test that names the file, the
//! functions expected and the functions reached.
//!
//! `REFLEX_WIRING_TEMPLATE=path/to/template.yaml` checks another template (a copy being edited).
//!
//! The member-account template, `infra/member.yaml`, forwards events to the central bus: every
//! sample the central rules route somewhere must be forwarded, and none they route nowhere.
//! `REFLEX_WIRING_MEMBER_TEMPLATE=path/to/member.yaml` checks another copy of it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use reflex_harden::Harden;
use reflex_notify::Notify;
use reflex_privatize::Privatize;
use reflex_quarantine::Quarantine;
use reflex_revoke::Revoke;
use reflex_scale::Scale;
use reflex_shared::{Function, config};
use reflex_tests::manifest::{MANIFEST, Variant, covers, is_glob, manifest};
use reflex_tests::pattern::Pattern;
use reflex_tests::render::render;
use reflex_tests::sample;
use reflex_tests::template::yaml_to_json_document;
use serde_json::{Value, json};

/// Sample events that are malformed or unsupported: never routed, so not in the manifest.
const UNROUTED_DIR: &str = "invalid";
/// The directories with a test of their own below; any other is checked by
/// `samples_in_other_directories_route_as_the_manifest_says`.
const CHECKED_DIRS: &[&str] = &[
    "revoke",
    "scale",
    "notify",
    "harden",
    "quarantine",
    "privatize",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

// ---------------------------------------------------------------------------------------------
// The template: every function's EventBridge rules

/// One EventBridge rule of a function.
struct Rule {
    /// The function's `BuildProperties.Binary` without `reflex-`: `revoke` for `reflex-revoke`.
    function: String,
    /// Where it is in the template: `NotifyFunction.Events.Insight`.
    name: String,
    pattern: Pattern,
}

struct Wiring {
    template: PathBuf,
    rules: Vec<Rule>,
}

impl Wiring {
    /// The enabled rules that invoke a function of `template`, as deployed with its defaults (a
    /// rule whose `State` is a condition is enabled or not as the defaults make it).
    fn load(template: PathBuf) -> Result<Self, String> {
        let stack = render(&template, &[])?;
        let resources = stack["Resources"].as_object().ok_or("no Resources")?;
        let mut rules = Vec::new();
        for (id, rule) in resources {
            if rule["Type"] != "AWS::Events::Rule" || rule["Properties"]["State"] == "DISABLED" {
                continue;
            }
            let targets = rule["Properties"]["Targets"]
                .as_array()
                .into_iter()
                .flatten();
            for target in targets {
                let Some((function_id, function)) = target
                    .pointer("/Arn/Fn::GetAtt/0")
                    .and_then(Value::as_str)
                    .and_then(|f| Some((f, resources.get(f)?)))
                    .filter(|(_, f)| f["Type"] == "AWS::Lambda::Function")
                else {
                    continue;
                };
                let binary = function
                    .pointer("/Metadata/BuildProperties/Binary")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        format!(
                            "{function_id}: no Metadata.BuildProperties.Binary to name the function"
                        )
                    })?;
                // SAM names the rule of a function's event FUNCTION + EVENT.
                let name = match id.strip_prefix(function_id) {
                    Some(event) if !event.is_empty() => format!("{function_id}.Events.{event}"),
                    _ => id.clone(),
                };
                rules.push(Rule {
                    function: binary.strip_prefix("reflex-").unwrap_or(binary).to_string(),
                    pattern: pattern_at(rule, "/Properties/EventPattern", &name)?,
                    name,
                });
            }
        }
        Ok(Self { template, rules })
    }

    /// The functions with at least one rule.
    fn functions(&self) -> BTreeSet<&str> {
        self.rules.iter().map(|r| r.function.as_str()).collect()
    }

    /// The rules that fire for `event`.
    fn fired(&self, event: &Value) -> Vec<&Rule> {
        self.rules
            .iter()
            .filter(|r| r.pattern.matches(event))
            .collect()
    }
}

/// The event pattern at `pointer` in a resource (`what` names it in errors). A pattern may also be
/// given as a JSON string (how CloudFormation accepts `null`).
fn pattern_at(resource: &Value, pointer: &str, what: &str) -> Result<Pattern, String> {
    let pattern = match resource.pointer(pointer) {
        Some(Value::String(text)) => {
            serde_json::from_str(text).map_err(|e| format!("{what}: {pointer}: {e}"))?
        }
        Some(pattern) => pattern.clone(),
        None => return Err(format!("{what}: no {pointer}")),
    };
    Pattern::parse(&pattern).map_err(|e| format!("{what}: {e}"))
}

fn template() -> PathBuf {
    std::env::var_os("REFLEX_WIRING_TEMPLATE")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("infra/template.yaml"))
}

fn wiring() -> &'static Wiring {
    static WIRING: OnceLock<Wiring> = OnceLock::new();
    WIRING.get_or_init(|| {
        let path = template();
        Wiring::load(path.clone()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    })
}

// ---------------------------------------------------------------------------------------------
// The manifest: events/routes.toml

// `Manifest`, `Variant`, `manifest()`, `is_glob` and `covers`: `reflex_tests::manifest`.

// ---------------------------------------------------------------------------------------------
// Sample events

/// The directories of sample events that are routed, sorted.
fn sample_dirs() -> Vec<String> {
    let mut dirs: Vec<String> = std::fs::read_dir(workspace().join("events"))
        .expect("events/")
        .map(|entry| entry.expect("events/ entry"))
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|dir| dir != UNROUTED_DIR)
        .collect();
    dirs.sort();
    dirs
}

/// The sample events of `events/<dir>/`, as `dir/file`, sorted.
fn samples_in(dir: &str) -> Vec<String> {
    reflex_tests::sample_files(dir)
        .into_iter()
        .map(|file| format!("{dir}/{file}"))
        .collect()
}

/// Every routed sample event, as `dir/file`, sorted.
fn all_samples() -> Vec<String> {
    sample_dirs()
        .iter()
        .flat_map(|dir| samples_in(dir))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Checking routes

fn listed<'a>(functions: impl IntoIterator<Item = &'a String>) -> String {
    let names: Vec<&str> = functions.into_iter().map(String::as_str).collect();
    if names.is_empty() {
        "nothing".to_string()
    } else {
        format!("[{}]", names.join(", "))
    }
}

/// `None` if `event` reaches exactly `expected`; otherwise a line that says what went wrong.
fn mismatch(what: &str, event: &Value, expected: &BTreeSet<String>) -> Option<String> {
    let fired = wiring().fired(event);
    let reached: BTreeSet<String> = fired.iter().map(|r| r.function.clone()).collect();
    if &reached == expected {
        return None;
    }
    let mut line = format!(
        "{what}: expected {}, routed to {}",
        listed(expected),
        listed(&reached)
    );
    if !fired.is_empty() {
        let names: Vec<&str> = fired.iter().map(|r| r.name.as_str()).collect();
        line += &format!(" (fired: {})", names.join(", "));
    }
    Some(line)
}

/// Every sample in `files` reaches exactly the functions the manifest names; all the mismatches
/// in one failure.
#[track_caller]
fn assert_routed(what: &str, files: &[String]) {
    assert!(!files.is_empty(), "{what}: no sample events");
    let mut expected_functions = BTreeSet::new();
    let problems: Vec<String> = files
        .iter()
        .filter_map(|file| match manifest().expected(file) {
            Ok(expected) => {
                let problem = mismatch(&format!("events/{file}"), &sample(file), &expected);
                expected_functions.extend(expected);
                problem
            }
            Err(uncovered) => Some(uncovered),
        })
        .collect();
    assert!(
        problems.is_empty(),
        "{} of {} samples in {what} are not routed as {MANIFEST} says, by the rules of {}:\n  \
         {}{}",
        problems.len(),
        files.len(),
        shown(&wiring().template),
        problems.join("\n  "),
        without_rules(&expected_functions)
    );
}

#[track_caller]
fn assert_dir_routed(dir: &str) {
    assert_routed(&format!("events/{dir}/"), &samples_in(dir));
}

/// A note on the expected functions that have no rule in the template at all, if any.
fn without_rules(expected: &BTreeSet<String>) -> String {
    let known = wiring().functions();
    let missing: Vec<&String> = expected
        .iter()
        .filter(|f| !known.contains(f.as_str()))
        .collect();
    if missing.is_empty() {
        return String::new();
    }
    format!(
        "\nThe template has no EventBridge rule for {} (the functions with rules: {}).",
        listed(missing),
        known.into_iter().collect::<Vec<_>>().join(", ")
    )
}

/// `path` relative to the workspace when it is inside it.
fn shown(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let root = workspace().canonicalize().unwrap_or_else(|_| workspace());
    path.strip_prefix(&root)
        .unwrap_or(&path)
        .display()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// The tests

#[test]
fn the_template_loads_with_its_rules_as_valid_event_patterns() {
    let wiring = wiring();
    assert!(
        !wiring.rules.is_empty(),
        "{}: no EventBridge rules",
        shown(&wiring.template)
    );
}

#[test]
fn cloudformation_short_form_tags_load_as_their_long_form() {
    let yaml = "Role: !GetAtt RevokeRole.Arn\nName: !Sub ${AWS::StackName}-x\n\
                Cond: !Not [!Equals [!Ref Email, \"\"]]\nPattern: {source: [aws.iam], n: [1, 2.5, true, null]}\n";
    assert_eq!(
        yaml_to_json_document(yaml).unwrap(),
        json!({
            "Role": { "Fn::GetAtt": "RevokeRole.Arn" },
            "Name": { "Fn::Sub": "${AWS::StackName}-x" },
            "Cond": { "Fn::Not": [{ "Fn::Equals": [{ "Ref": "Email" }, ""] }] },
            "Pattern": { "source": ["aws.iam"], "n": [1, 2.5, true, null] }
        })
    );
    assert!(
        yaml_to_json_document("a: 1\na: 2\n").is_err(),
        "a duplicated key is an error"
    );
}

#[test]
fn every_sample_event_is_in_the_manifest() {
    let uncovered: Vec<String> = all_samples()
        .iter()
        .filter_map(|file| manifest().expected(file).err())
        .collect();
    assert!(uncovered.is_empty(), "{}", uncovered.join("\n"));
}

#[test]
fn every_manifest_entry_covers_a_sample_event() {
    let samples = all_samples();
    let mut stale: Vec<String> = manifest()
        .routes
        .keys()
        .filter(|key| {
            !samples
                .iter()
                .any(|file| file == *key || (is_glob(key) && covers(key, file)))
        })
        .map(|key| format!("\"{key}\" covers no sample event under events/ (but invalid/)"))
        .collect();
    stale.extend(
        manifest()
            .variants
            .iter()
            .filter(|v| !samples.contains(&v.from))
            .map(|v| format!("variant from \"{}\": no such sample event", v.from)),
    );
    assert!(stale.is_empty(), "{MANIFEST}:\n{}", stale.join("\n"));
}

#[test]
fn revoke_samples_route_as_the_manifest_says() {
    assert_dir_routed("revoke");
}

#[test]
fn scale_samples_route_as_the_manifest_says() {
    assert_dir_routed("scale");
}

#[test]
fn notify_samples_route_as_the_manifest_says() {
    assert_dir_routed("notify");
}

#[test]
fn harden_samples_route_as_the_manifest_says() {
    assert_dir_routed("harden");
}

#[test]
fn quarantine_samples_route_as_the_manifest_says() {
    assert_dir_routed("quarantine");
}

#[test]
fn privatize_samples_route_as_the_manifest_says() {
    assert_dir_routed("privatize");
}

/// A directory added under events/ later is checked too, without its own test.
#[test]
fn samples_in_other_directories_route_as_the_manifest_says() {
    let others: Vec<String> = sample_dirs()
        .into_iter()
        .filter(|dir| !CHECKED_DIRS.contains(&dir.as_str()))
        .flat_map(|dir| samples_in(&dir))
        .collect();
    if !others.is_empty() {
        assert_routed("the other events/ directories", &others);
    }
}

#[test]
fn near_misses_route_as_the_manifest_says() {
    let problems: Vec<String> = manifest()
        .variants
        .iter()
        .filter_map(|variant| {
            let what = describe(variant);
            match apply(variant) {
                Ok(event) => mismatch(&what, &event, &variant.to.iter().cloned().collect()),
                Err(e) => Some(format!("{what}: {e}")),
            }
        })
        .collect();
    let expected = manifest()
        .variants
        .iter()
        .flat_map(|variant| variant.to.iter().cloned())
        .collect();
    assert!(
        problems.is_empty(),
        "near misses in {MANIFEST} not routed as it says, by the rules of {}:\n  {}{}",
        shown(&wiring().template),
        problems.join("\n  "),
        without_rules(&expected)
    );
}

#[test]
fn every_rule_in_the_template_fires_for_some_sample_event() {
    let events: Vec<Value> = all_samples().iter().map(|file| sample(file)).collect();
    let idle: Vec<&str> = wiring()
        .rules
        .iter()
        .filter(|rule| !events.iter().any(|event| rule.pattern.matches(event)))
        .map(|rule| rule.name.as_str())
        .collect();
    assert!(
        idle.is_empty(),
        "no sample event fires {}: a rule that cannot fire, or a sample to add under events/",
        idle.join(", ")
    );
}

// ---------------------------------------------------------------------------------------------
// Near misses

fn describe(variant: &Variant) -> String {
    let mut changes: Vec<String> = variant
        .set
        .iter()
        .map(|(pointer, value)| format!("{pointer} = {value}"))
        .collect();
    changes.extend(
        variant
            .remove
            .iter()
            .map(|pointer| format!("{pointer} removed")),
    );
    format!(
        "events/{} with {} ({})",
        variant.from,
        changes.join(", "),
        variant.why
    )
}

fn apply(variant: &Variant) -> Result<Value, String> {
    let mut event = sample(&variant.from);
    for (pointer, value) in &variant.set {
        let value = value.clone();
        match event.pointer_mut(pointer) {
            Some(slot) => *slot = value,
            None => {
                let (parent, key) = parent_and_key(pointer)?;
                match event.pointer_mut(parent) {
                    Some(Value::Object(object)) => {
                        object.insert(key, value);
                    }
                    _ => return Err(format!("{pointer}: no object to set it in")),
                }
            }
        }
    }
    for pointer in &variant.remove {
        let (parent, key) = parent_and_key(pointer)?;
        let removed = event
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .and_then(|object| object.remove(&key));
        if removed.is_none() {
            return Err(format!("{pointer}: no such field to remove"));
        }
    }
    Ok(event)
}

/// `/detail/eventName` as (`/detail`, `eventName`), the key unescaped (`~1` is `/`, `~0` is `~`).
fn parent_and_key(pointer: &str) -> Result<(&str, String), String> {
    let (parent, key) = pointer
        .rsplit_once('/')
        .ok_or_else(|| format!("{pointer}: not a JSON pointer"))?;
    Ok((parent, key.replace("~1", "/").replace("~0", "~")))
}

// ---------------------------------------------------------------------------------------------
// The member account: infra/member.yaml forwards events to the central bus

/// The forwarding rules of the member-account template: its enabled `AWS::Events::Rule`s, as
/// deployed with its defaults.
struct Forwarding {
    template: PathBuf,
    /// The rule's logical id and its pattern.
    rules: Vec<(String, Pattern)>,
}

impl Forwarding {
    fn load(template: PathBuf) -> Result<Self, String> {
        let stack = render(&template, &[])?;
        let resources = stack["Resources"].as_object().ok_or("no Resources")?;
        let mut rules = Vec::new();
        for (id, resource) in resources {
            let disabled = resource["Properties"]["State"] == "DISABLED";
            if resource["Type"] != "AWS::Events::Rule" || disabled {
                continue;
            }
            let pattern = pattern_at(resource, "/Properties/EventPattern", id)?;
            rules.push((id.clone(), pattern));
        }
        Ok(Self { template, rules })
    }

    /// The rules that forward `event`.
    fn forwarded_by(&self, event: &Value) -> Vec<&str> {
        self.rules
            .iter()
            .filter(|(_, pattern)| pattern.matches(event))
            .map(|(id, _)| id.as_str())
            .collect()
    }
}

fn member_template() -> PathBuf {
    std::env::var_os("REFLEX_WIRING_MEMBER_TEMPLATE")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("infra/member.yaml"))
}

fn forwarding() -> &'static Forwarding {
    static FORWARDING: OnceLock<Forwarding> = OnceLock::new();
    FORWARDING.get_or_init(|| {
        let path = member_template();
        Forwarding::load(path.clone()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    })
}

/// Every routed sample event and every near miss, as (what it is, the event).
fn samples_and_near_misses() -> Vec<(String, Value)> {
    let mut cases: Vec<(String, Value)> = all_samples()
        .into_iter()
        .map(|file| {
            let event = sample(&file);
            (format!("events/{file}"), event)
        })
        .collect();
    for variant in &manifest().variants {
        let event = apply(variant).unwrap_or_else(|e| panic!("{}: {e}", describe(variant)));
        cases.push((describe(variant), event));
    }
    cases
}

/// The central stack's view of `event`: the functions it reaches and the rules that fire.
fn central_routing(event: &Value) -> (BTreeSet<String>, Vec<&'static str>) {
    let fired = wiring().fired(event);
    let functions = fired.iter().map(|r| r.function.clone()).collect();
    (functions, fired.iter().map(|r| r.name.as_str()).collect())
}

#[test]
fn the_member_template_loads_with_its_forwarding_rules() {
    assert!(
        !forwarding().rules.is_empty(),
        "{}: no AWS::Events::Rule forwards anything",
        shown(&forwarding().template)
    );
}

/// A member account must never drop an event the central stack acts on.
#[test]
fn the_member_template_forwards_every_event_the_central_stack_routes() {
    let dropped: Vec<String> = samples_and_near_misses()
        .iter()
        .filter_map(|(what, event)| {
            let (functions, fired) = central_routing(event);
            if functions.is_empty() || !forwarding().forwarded_by(event).is_empty() {
                return None;
            }
            Some(format!(
                "{what}: reaches {} in the central stack (fired: {}), but no rule forwards it",
                listed(&functions),
                fired.join(", ")
            ))
        })
        .collect();
    assert!(
        dropped.is_empty(),
        "a member account would drop {} event(s) the central stack routes, by the rules of {} \
         against those of {}:\n  {}",
        dropped.len(),
        shown(&forwarding().template),
        shown(&wiring().template),
        dropped.join("\n  ")
    );
}

/// Nor forward (and pay for) an event the central stack routes nowhere.
#[test]
fn the_member_template_forwards_nothing_the_central_stack_ignores() {
    let needless: Vec<String> = samples_and_near_misses()
        .iter()
        .filter_map(|(what, event)| {
            let forwarded_by = forwarding().forwarded_by(event);
            if forwarded_by.is_empty() || !central_routing(event).0.is_empty() {
                return None;
            }
            Some(format!(
                "{what}: routed nowhere in the central stack, but forwarded by {}",
                forwarded_by.join(", ")
            ))
        })
        .collect();
    assert!(
        needless.is_empty(),
        "{} event(s) forwarded by {} for nothing (by the rules of {}):\n  {}",
        needless.len(),
        shown(&forwarding().template),
        shown(&wiring().template),
        needless.join("\n  ")
    );
}

#[test]
fn every_forwarding_rule_forwards_some_sample_event() {
    let events: Vec<Value> = all_samples().iter().map(|file| sample(file)).collect();
    let idle: Vec<&str> = forwarding()
        .rules
        .iter()
        .filter(|(_, pattern)| !events.iter().any(|event| pattern.matches(event)))
        .map(|(id, _)| id.as_str())
        .collect();
    assert!(
        idle.is_empty(),
        "{}: no sample event is forwarded by {}",
        shown(&forwarding().template),
        idle.join(", ")
    );
}

// ---------------------------------------------------------------------------------------------
// Routing and the functions agree

/// What function `F` makes of an event the template routes to it: accepted (its kind and
/// source), and interpreted without an error, except the samples that are malformed on purpose
/// (`invalid-*`), which must be refused as bad events.
fn takes<F: Function>(file: &str) -> Result<(), String> {
    let event = reflex_testkit::sample_event(file);
    if !event.is_one_of(F::ACCEPTS) {
        return Err(format!(
            "events/{file} is routed to {} but refused as unsupported",
            F::NAME
        ));
    }
    let settings = F::settings(&config::from_pairs::<&str, &str>(&[])).expect("defaults");
    let malformed = file
        .rsplit('/')
        .next()
        .unwrap_or(file)
        .starts_with("invalid-");
    match (F::interpret(&event, &settings), malformed) {
        (Ok(_), false) | (Err(_), true) => Ok(()),
        (Ok(_), true) => Err(format!(
            "events/{file} is malformed on purpose but {} interprets it",
            F::NAME
        )),
        (Err(e), false) => Err(format!("{} cannot interpret events/{file}: {e}", F::NAME)),
    }
}

/// A routed sample that its function refuses would be dead-lettered in production: the
/// template's patterns and each function's `ACCEPTS` and `interpret` must agree.
#[test]
fn every_function_takes_the_samples_routed_to_it() {
    let problems: Vec<String> = all_samples()
        .iter()
        .flat_map(|file| {
            let expected = manifest().expected(file).unwrap_or_default();
            expected
                .into_iter()
                .filter_map(|function| {
                    match function.as_str() {
                        "revoke" => takes::<Revoke>(file),
                        "scale" => takes::<Scale>(file),
                        "harden" => takes::<Harden>(file),
                        "quarantine" => takes::<Quarantine>(file),
                        "privatize" => takes::<Privatize>(file),
                        "notify" => takes::<Notify>(file),
                        other => Err(format!("{MANIFEST} names an unknown function `{other}`")),
                    }
                    .err()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(problems.is_empty(), "\n  {}", problems.join("\n  "));
}
