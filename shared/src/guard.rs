//! Guards: pure checks around the rules, the same for every function.
//!
//! Before anything else (`screen`): the loop guard, the failed-call skip, a caller exempt by ARN
//! pattern. After the rules (`apply`): each rule's mode, exempt resources, the blast radius.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use crate::event::ApiCall;
use crate::exemption::ExemptPrincipals;
use crate::identity::SelfIdentity;
use crate::plan::{Action, Finding};
use crate::resource::Resource;

/// How a rule runs in this deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Enforce,
    DryRun,
    Off,
}

impl Mode {
    /// As in configuration and the JSON report: `enforce`, `dry-run`, `off`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::DryRun => "dry-run",
            Mode::Off => "off",
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "enforce" => Ok(Mode::Enforce),
            "dry-run" | "dryrun" | "dry_run" => Ok(Mode::DryRun),
            "off" => Ok(Mode::Off),
            other => Err(format!(
                "`{other}` is not a mode; use enforce, dry-run or off"
            )),
        }
    }
}

/// Why a whole event is left alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "guard", rename_all = "kebab-case")]
pub enum EventSkip {
    /// The call was made by Reflex itself: acting on it could loop forever.
    LoopGuard { actor: String },
    /// AWS refused the call (`errorCode`): nothing changed, nothing to remediate.
    FailedCall { error_code: String },
    /// The caller is exempt by configuration (an ARN pattern). A caller exempt by its tag is
    /// not skipped: its steps are reported as `exempt`.
    ExemptActor { actor: String, because: String },
}

impl EventSkip {
    /// As in the JSON report: `loop-guard`, `failed-call`, `exempt-actor`.
    pub fn name(&self) -> &'static str {
        match self {
            EventSkip::LoopGuard { .. } => "loop-guard",
            EventSkip::FailedCall { .. } => "failed-call",
            EventSkip::ExemptActor { .. } => "exempt-actor",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            EventSkip::LoopGuard { actor } => {
                format!("loop guard: the call was made by Reflex itself ({actor})")
            }
            EventSkip::FailedCall { error_code } => {
                format!("the call failed with {error_code}: nothing changed")
            }
            EventSkip::ExemptActor { actor, because } => {
                format!("the caller {actor} is exempt ({because})")
            }
        }
    }
}

/// What the guards decided for one planned action.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "disposition", rename_all = "kebab-case")]
pub enum Disposition {
    Run,
    DryRun,
    Skip {
        why: String,
    },
    /// The resource the action touches carries the exemption tag.
    Exempt {
        why: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct GuardedFinding<A> {
    pub finding: Finding<A>,
    pub mode: Mode,
    pub steps: Vec<(A, Disposition)>,
}

/// The guards' settings, from configuration plus Reflex's own identity.
#[derive(Debug, Clone)]
pub struct Guards {
    /// Reflex itself: its own role at home and its member role elsewhere, by exact ARNs.
    pub self_identity: Option<SelfIdentity>,
    pub exempt: ExemptPrincipals,
    pub default_mode: Mode,
    pub rule_modes: BTreeMap<String, Mode>,
    pub max_actions: usize,
}

impl Guards {
    /// Every rule enforced, nobody exempt, nobody recognised as Reflex, the default blast radius.
    pub fn enforcing(max_actions: usize) -> Self {
        Self {
            self_identity: None,
            exempt: ExemptPrincipals::none(),
            default_mode: Mode::Enforce,
            rule_modes: BTreeMap::new(),
            max_actions,
        }
    }

    pub fn mode_for(&self, rule_id: &str) -> Mode {
        self.rule_modes
            .get(rule_id)
            .copied()
            .unwrap_or(self.default_mode)
    }

    /// Event-level guards on an API call, in order: loop guard, failed call, exempt caller (by
    /// ARN pattern). The caller's exemption tag is read later, once it is known where to read it.
    pub fn screen(&self, call: &ApiCall) -> Option<EventSkip> {
        let actor = &call.user_identity;
        if self.self_identity.as_ref().is_some_and(|me| me.is(actor)) {
            return Some(EventSkip::LoopGuard {
                actor: actor.describe(),
            });
        }
        if let Some(code) = call.error_code.as_deref().filter(|c| !c.is_empty()) {
            return Some(EventSkip::FailedCall {
                error_code: code.to_string(),
            });
        }
        self.exempt
            .matching(&actor.arns())
            .map(|pattern| EventSkip::ExemptActor {
                actor: actor.describe(),
                because: format!("matches exemption pattern `{pattern}`"),
            })
    }

    /// Step-level guards over the rules' findings, in order: the rule's mode, an exempt resource
    /// (`exempt` maps each to why), the blast radius. Dry-run steps count toward the blast radius
    /// too, so a dry-run reports exactly what enforce mode would do.
    pub fn apply<A: Action>(
        &self,
        findings: Vec<Finding<A>>,
        exempt: &BTreeMap<Resource, String>,
    ) -> Vec<GuardedFinding<A>> {
        let mut budget = self.max_actions;
        // A tag some finding of this event removes (written by a caller not allowed to grant
        // it) exempts nothing: neither its own removal nor any other step on that resource (a
        // role created with the tag and a trust open to everyone loses both).
        let refused: BTreeSet<Resource> = findings
            .iter()
            .flat_map(|f| &f.actions)
            .filter(|a| a.lifts_exemption())
            .map(Action::resource)
            .collect();
        findings
            .into_iter()
            .map(|finding| {
                let mode = self.mode_for(finding.rule_id);
                let steps = finding
                    .actions
                    .iter()
                    .map(|action| {
                        let resource = action.resource();
                        let exemption = exempt
                            .get(&resource)
                            .filter(|_| !refused.contains(&resource));
                        let disposition = match (mode, exemption) {
                            (Mode::Off, _) => Disposition::Skip {
                                why: format!("rule {} is off", finding.rule_id),
                            },
                            (_, Some(why)) => Disposition::Exempt { why: why.clone() },
                            _ if budget == 0 => Disposition::Skip {
                                why: format!(
                                    "blast radius: at most {} actions per invocation",
                                    self.max_actions
                                ),
                            },
                            (Mode::Enforce, _) => {
                                budget -= 1;
                                Disposition::Run
                            }
                            (Mode::DryRun, _) => {
                                budget -= 1;
                                Disposition::DryRun
                            }
                        };
                        (action.clone(), disposition)
                    })
                    .collect();
                GuardedFinding {
                    finding,
                    mode,
                    steps,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::MemberRole;

    #[test]
    fn guard_names_are_the_json_ones() {
        for skip in [
            EventSkip::LoopGuard { actor: "a".into() },
            EventSkip::FailedCall {
                error_code: "AccessDenied".into(),
            },
            EventSkip::ExemptActor {
                actor: "a".into(),
                because: "b".into(),
            },
        ] {
            assert_eq!(serde_json::to_value(&skip).unwrap()["guard"], skip.name());
        }
    }

    /// A call by a session of `arn:aws:iam::ACCOUNT:role{path}ROLE`, as CloudTrail records it.
    fn call_by(path: &str, role: &str, account: &str) -> ApiCall {
        serde_json::from_value(serde_json::json!({
            "userIdentity": {
                "type": "AssumedRole", "accountId": account,
                "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/reflex-revoke"),
                "sessionContext": {"sessionIssuer": {"type": "Role", "accountId": account,
                    "arn": format!("arn:aws:iam::{account}:role{path}{role}"), "userName": role}}
            },
            "eventSource": "iam.amazonaws.com", "eventName": "AttachUserPolicy",
            "awsRegion": "us-east-1"
        }))
        .unwrap()
    }

    #[test]
    fn the_loop_guard_knows_reflex_by_exact_arns_only() {
        let member_role =
            MemberRole::parse("arn:aws:iam::{account}:role/reflex/reflex-remediation-revoke")
                .unwrap();
        let guards = Guards {
            self_identity: Some(
                SelfIdentity::from_arn(
                    "arn:aws:iam::111111111111:role/reflex/reflex-revoke-us-east-1",
                )
                .with_member_role(Some(member_role)),
            ),
            ..Guards::enforcing(10)
        };
        let is_loop =
            |call: &ApiCall| matches!(guards.screen(call), Some(EventSkip::LoopGuard { .. }));
        // Reflex's own role at home, its member role in a member account.
        assert!(is_loop(&call_by(
            "/reflex/",
            "reflex-revoke-us-east-1",
            "111111111111"
        )));
        assert!(is_loop(&call_by(
            "/reflex/",
            "reflex-remediation-revoke",
            "222222222222"
        )));
        // The member role's name at another path, or in Reflex's own account (where no member
        // role exists, so anyone allowed to create roles may take the name): someone else's.
        assert!(!is_loop(&call_by(
            "/",
            "reflex-remediation-revoke",
            "222222222222"
        )));
        assert!(!is_loop(&call_by(
            "/ops/",
            "reflex-remediation-revoke",
            "222222222222"
        )));
        assert!(!is_loop(&call_by(
            "/reflex/",
            "reflex-remediation-revoke",
            "111111111111"
        )));
        // Another name under /reflex/ is no one of Reflex's.
        assert!(!is_loop(&call_by("/reflex/", "ops", "222222222222")));
        assert!(!is_loop(&call_by("/reflex/", "ops", "111111111111")));
        // Reflex's own role name in another account.
        assert!(!is_loop(&call_by(
            "/reflex/",
            "reflex-revoke-us-east-1",
            "222222222222"
        )));
        // Without Reflex's own identity, no session is taken for Reflex's.
        let blind = Guards {
            self_identity: None,
            ..guards.clone()
        };
        assert_eq!(
            blind.screen(&call_by(
                "/reflex/",
                "reflex-remediation-revoke",
                "222222222222"
            )),
            None
        );
    }
}
