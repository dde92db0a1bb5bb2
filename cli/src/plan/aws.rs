//! `--facts-from-aws`: what a function reads before it decides, read as its pipeline reads it
//! (`reflex_shared::pipeline`: its instance for the event's account and region, through the
//! member role for another account; the caller's and the touched resources' exemption tags;
//! `Function::gather`), and nothing else: no step is executed, the ledger is never written
//! (scale's facts read it), no report is published.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::SdkConfig;
use reflex_shared::config::{CoreConfig, Env, SELF_ARN, var};
use reflex_shared::event::Event;
use reflex_shared::exemption::ExemptTag;
use reflex_shared::identity::SelfIdentity;
use reflex_shared::pipeline::Places;
use reflex_shared::plan::{Action, Finding};
use reflex_shared::target::target_of;
use reflex_shared::{Function, Notes, Resource};
use tokio::runtime::Runtime;

use crate::judge::Judge;

/// The longest the facts of one event may take to read (a deployed function has its timeout).
const LOOKUP_BUDGET: Duration = Duration::from_secs(60);

/// AWS as the usual settings reach it, and the account Reflex runs in.
pub struct AwsReader {
    runtime: Runtime,
    sdk: SdkConfig,
    /// Reflex's own account: `REFLEX_SELF_ARN`'s, else the account of these credentials.
    home_account: String,
}

/// What was read for one function: its facts, the resources exempt by tag, the notes.
pub struct Read<Facts> {
    pub facts: Facts,
    pub exempt: BTreeMap<Resource, String>,
    pub notes: Vec<String>,
}

impl AwsReader {
    /// The SDK configuration (profile, region, endpoint from the environment) and the home
    /// account, asked of STS when `REFLEX_SELF_ARN` does not name it.
    pub fn connect(env: &Env<'_>) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        let sdk = runtime.block_on(reflex_shared::aws::load_sdk_config());
        let configured = var(env, SELF_ARN)
            .and_then(|arn| SelfIdentity::from_arn(&arn).account().map(String::from));
        let home_account = match configured {
            Some(account) => account,
            None => runtime.block_on(async {
                let identity = aws_sdk_sts::Client::new(&sdk)
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| {
                        format!(
                            "--facts-from-aws: cannot tell which account these credentials are \
                             for (STS GetCallerIdentity: {}); set {SELF_ARN} or the AWS profile",
                            reflex_shared::aws::error_text(&e)
                        )
                    })?;
                identity
                    .account
                    .ok_or_else(|| "STS GetCallerIdentity named no account".to_string())
            })?,
        };
        Ok(Self {
            runtime,
            sdk,
            home_account,
        })
    }

    /// Read what `F` would read for `trigger`: the facts, and the exemption tags of the caller
    /// and of every resource the findings on those facts touch. An error says what could not be
    /// reached (a member account without a role, ...).
    pub fn read<F: Function>(
        &self,
        judge: &Judge<F>,
        env: &Env<'_>,
        event: &Event,
        trigger: &F::Trigger,
    ) -> Result<Read<F::Facts>, String> {
        let core =
            CoreConfig::from_env(env, F::RULE_IDS).map_err(|e| format!("{}: {e}", F::NAME))?;
        self.runtime
            .block_on(self.read_async(judge, &core, event, trigger))
    }

    async fn read_async<F: Function>(
        &self,
        judge: &Judge<F>,
        core: &CoreConfig,
        event: &Event,
        trigger: &F::Trigger,
    ) -> Result<Read<F::Facts>, String> {
        let places = Places::<F>::new(
            &self.sdk,
            &self.home_account,
            core.member_role.clone(),
            core.ledger(&self.sdk),
        );
        let home = places.home_target().clone();
        let target = if F::ACTS_WHERE_THE_EVENT_HAPPENED {
            target_of(event.place(), &home)
        } else {
            home.clone()
        };
        let function = places
            .at(&target)
            .await
            .map_err(|e| format!("{}: cannot read in {target}: {e}", F::NAME))?;
        let mut notes = vec![format!("facts and tags read in {target}")];
        let tags = TagReader {
            function: &*function,
            tag: &core.exempt_tag,
        };

        let caller = caller_to_screen(event, &core.exempt_tag);
        let caller_tag = match &caller {
            Some((resource, _)) => tags.on(resource, &mut notes).await,
            None => None,
        };

        let mut gathered = Notes::default();
        let facts = tokio::time::timeout(LOOKUP_BUDGET, function.gather(trigger, &mut gathered))
            .await
            .map_err(|_| {
                format!(
                    "{}: the lookups did not finish within {}s",
                    F::NAME,
                    LOOKUP_BUDGET.as_secs()
                )
            })?;
        notes.extend(gathered.lines().iter().cloned());
        if let Some(why) = gathered.failed_for_now() {
            notes.push(format!(
                "a lookup failed for now ({why}): deployed, the function would fail the event \
                 to have it retried rather than decide without it"
            ));
        }

        let findings = F::decide(trigger, &facts, &judge.settings);
        let mut exempt = BTreeMap::new();
        let touched = touched(&findings);
        for resource in &touched {
            let tag = match &caller {
                Some((caller, _)) if caller == resource => caller_tag.clone(),
                _ => tags.on(resource, &mut notes).await,
            };
            if let Some(tag) = tag {
                let why = format!("{resource} carries the exemption tag {tag}");
                exempt.insert(resource.clone(), why);
            }
        }
        // As the pipeline: a caller exempt by its tag holds back every step, as `exempt`.
        if let Some(((caller, who), tag)) = caller.zip(caller_tag) {
            let why = format!("the caller {who} ({caller}) carries the exemption tag {tag}");
            for resource in touched {
                exempt.entry(resource).or_insert_with(|| why.clone());
            }
        }
        Ok(Read {
            facts,
            exempt,
            notes,
        })
    }
}

/// Reads a resource's exemption tag with the function's own `tags`.
struct TagReader<'a, F> {
    function: &'a F,
    tag: &'a ExemptTag,
}

impl<F: Function> TagReader<'_, F> {
    /// The exemption tag on `resource`, as `key=value`; a read that fails is a note and no
    /// exemption (the pipeline retries the event when it fails for now).
    async fn on(&self, resource: &Resource, notes: &mut Vec<String>) -> Option<String> {
        match self.function.tags(resource).await {
            Ok(tags) => tags.and_then(|t| self.tag.found_in(&t)),
            Err(e) if e.transient => {
                notes.push(format!(
                    "could not read the tags of {resource} for now ({e}): deployed, the function \
                     would retry the event; planned as not exempt"
                ));
                None
            }
            Err(e) => {
                notes.push(format!(
                    "could not read the tags of {resource}, treated as not exempt: {e}"
                ));
                None
            }
        }
    }
}

/// The caller whose exemption tag is read, and who it is in words, as the pipeline picks it: a
/// principal that can carry tags, unless the call writes the exemption tag (judged whatever
/// tag its caller carries).
fn caller_to_screen(event: &Event, tag: &ExemptTag) -> Option<(Resource, String)> {
    let call = event.api_call()?;
    let resource = call.user_identity.principal()?;
    if tag.written_in(call.request_parameters.as_ref()).is_some() {
        return None;
    }
    Some((resource, call.user_identity.describe()))
}

/// Every resource the findings' actions touch, once each.
fn touched<A: Action>(findings: &[Finding<A>]) -> Vec<Resource> {
    let mut touched: Vec<Resource> = findings
        .iter()
        .flat_map(|f| f.actions.iter().map(Action::resource))
        .collect();
    touched.sort();
    touched.dedup();
    touched
}
