//! Privatize's settings: none of its own. What it may do is the core's to configure (mode and
//! rule modes, exemptions, the blast-radius limits), read by the core at cold start; it reads the
//! core's exemption tag too, whose writes it refuses.

use reflex_shared::ConfigError;
use reflex_shared::config::Env;
use reflex_shared::exemption::ExemptTag;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// The core's exemption tag (`REFLEX_EXEMPT_TAG`): written on a bucket, a snapshot or an
    /// image by a caller not exempt by ARN, privatize removes it (`privatize.exemption-tag`).
    pub exempt_tag: ExemptTag,
}

impl Settings {
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            exempt_tag: ExemptTag::from_env(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::RULE_IDS;
    use reflex_shared::config::{CoreConfig, from_pairs};

    #[test]
    fn unknown_rule_ids_in_rule_modes_are_refused_naming_the_known_ones() {
        let env = from_pairs(&[("REFLEX_RULE_MODES", "privatize.public-buckets=off")]);
        let err = CoreConfig::from_env(&env, RULE_IDS).unwrap_err();
        assert!(
            err.to_string().contains("privatize.public-bucket-policy"),
            "{err}"
        );
        let env = from_pairs(&[("REFLEX_RULE_MODES", "privatize.public-snapshot=dry-run")]);
        assert!(CoreConfig::from_env(&env, RULE_IDS).is_ok());
    }
}
