//! Reading the calls that open a security group as CloudTrail records them (once, by `trigger`);
//! `world_open` judges what they opened. Pure: no AWS calls.
//!
//! `AuthorizeSecurityGroupIngress`, in two shapes. `requestParameters.groupId` (or `groupName`),
//! and either `ipPermissions.items[]`, each with `ipProtocol`, `fromPort`, `toPort` and sources
//! `ipRanges.items[].cidrIp`, `ipv6Ranges.items[].cidrIpv6`, `prefixListIds.items[].prefixListId`
//! (or `groups`: another group, never the world); or the older single-rule form, `cidrIp`,
//! `ipProtocol`, `fromPort`, `toPort` (or `sourceSecurityGroupName`/`sourceSecurityGroupOwnerId`)
//! beside an empty `ipPermissions` (`{}`), which SDK scripts still send. In `responseElements`,
//! `securityGroupRuleSet.items[]` has the `securityGroupRuleId` of every rule created.
//!
//! `ModifySecurityGroupRules` (the console's edit of a rule), in the API's own capitalisation:
//! `requestParameters.ModifySecurityGroupRulesRequest` with `GroupId` and `SecurityGroupRule`
//! (one object, or a list for several), each `{SecurityGroupRuleId, SecurityGroupRule:
//! {IpProtocol, FromPort, ToPort, CidrIpv4 | CidrIpv6 | PrefixListId | ReferencedGroupId,
//! Description}}`; `responseElements.ModifySecurityGroupRulesResponse.return`. Only the rule ids
//! are taken from it: what a rule allows is read back from EC2 (the text may be stale, and it
//! does not say whether the rule is inbound).

use reflex_shared::{ApiCall, EventError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::exposure::Block;

/// One source CIDR allowed in on a protocol and port range: one security group rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenedRule {
    /// Normalised: `tcp`, `udp`, `icmp`, `icmpv6`, `-1` (all traffic) or a protocol number.
    pub protocol: String,
    /// `None` for all traffic (and absent ports).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_port: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_port: Option<i32>,
    /// The source: an IPv4 or IPv6 CIDR, or a managed prefix list's id (`pl-...`), whose
    /// entries are read before the rule is judged.
    pub cidr: String,
    /// The rule's id, from the call's response when CloudTrail recorded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl OpenedRule {
    pub fn is_ipv6(&self) -> bool {
        self.cidr.contains(':')
    }

    /// The prefix list the rule lets in, when its source is one.
    pub fn prefix_list(&self) -> Option<&str> {
        is_prefix_list(&self.cidr).then_some(self.cidr.as_str())
    }

    /// The source for people: `0.0.0.0/0`, `prefix list pl-...`.
    pub fn source(&self) -> String {
        match self.prefix_list() {
            Some(id) => format!("prefix list {id}"),
            None => self.cidr.clone(),
        }
    }

    /// `tcp 22`, `tcp 0-65535`, `all traffic`.
    pub fn ports(&self) -> String {
        match (self.protocol.as_str(), self.from_port, self.to_port) {
            ("-1", _, _) => "all traffic".to_string(),
            (p, Some(f), Some(t)) if f == t => format!("{p} {f}"),
            (p, Some(f), Some(t)) => format!("{p} {f}-{t}"),
            (p, _, _) => p.to_string(),
        }
    }

    /// The same rule, as the EC2 API's `IpPermission` JSON (for the undo command).
    pub fn ip_permission(&self) -> Value {
        let mut p = serde_json::json!({ "IpProtocol": self.protocol });
        if self.protocol != "-1" {
            if let Some(f) = self.from_port {
                p["FromPort"] = f.into();
            }
            if let Some(t) = self.to_port {
                p["ToPort"] = t.into();
            }
        }
        let (key, field) = if self.prefix_list().is_some() {
            ("PrefixListIds", "PrefixListId")
        } else if self.is_ipv6() {
            ("Ipv6Ranges", "CidrIpv6")
        } else {
            ("IpRanges", "CidrIp")
        };
        let mut range = serde_json::json!({ field: self.cidr });
        if let Some(d) = &self.description {
            range["Description"] = d.clone().into();
        }
        p[key] = Value::Array(vec![range]);
        p
    }

    /// Whether `other` is this rule (same protocol, ports and source; CIDRs compared by the
    /// addresses they hold, so `1.2.3.4/0` is `0.0.0.0/0`, as EC2 may record either).
    pub fn same_rule(
        &self,
        protocol: &str,
        from: Option<i32>,
        to: Option<i32>,
        cidr: &str,
    ) -> bool {
        let protocol = normalise_protocol(protocol);
        let same_source = match (Block::parse(cidr), Block::parse(&self.cidr)) {
            (Some(a), Some(b)) => a == b,
            _ => cidr.trim().eq_ignore_ascii_case(&self.cidr),
        };
        if protocol != self.protocol || !same_source {
            return false;
        }
        protocol == "-1" || (from == self.from_port && to == self.to_port)
    }
}

/// A managed prefix list's id, as a rule's source names it.
pub fn is_prefix_list(source: &str) -> bool {
    source.starts_with("pl-")
}

/// `6` → `tcp`, `all` → `-1`, and so on, as EC2 reports protocols back.
pub fn normalise_protocol(protocol: &str) -> String {
    match protocol.trim().to_ascii_lowercase().as_str() {
        "6" | "tcp" => "tcp".into(),
        "17" | "udp" => "udp".into(),
        "1" | "icmp" => "icmp".into(),
        "58" | "icmpv6" => "icmpv6".into(),
        "-1" | "all" => "-1".into(),
        other => other.to_string(),
    }
}

/// The group the call changed: `groupId`, else the group of the rules in the response.
pub fn group_id(call: &ApiCall) -> Result<String, EventError> {
    if let Some(id) = call.request_str("groupId") {
        return Ok(id.to_string());
    }
    call.response_elements
        .as_ref()
        .and_then(|r| r.pointer("/securityGroupRuleSet/items/0/groupId"))
        .and_then(Value::as_str)
        .map(String::from)
        .ok_or_else(|| EventError::MissingField {
            field: "detail.requestParameters.groupId (in AuthorizeSecurityGroupIngress)".into(),
        })
}

/// Every rule with an address source (a CIDR or a prefix list) the call opened, in either form,
/// with its rule id when the response has it. A call naming no rule in either form is refused; one
/// whose rules name only other groups opened nothing to the world (no rule, no error).
pub fn opened_rules(call: &ApiCall) -> Result<Vec<OpenedRule>, EventError> {
    let params = call
        .request_parameters
        .as_ref()
        .ok_or_else(|| missing("requestParameters"))?;
    let mut rules = Vec::new();
    let permissions = match params.get("ipPermissions") {
        Some(p) => items(p, "requestParameters.ipPermissions")?,
        None => &[],
    };
    for (i, p) in permissions.iter().enumerate() {
        let at = format!("requestParameters.ipPermissions.items[{i}]");
        let protocol = p
            .get("ipProtocol")
            .and_then(scalar)
            .ok_or_else(|| missing(&format!("{at}.ipProtocol")))?;
        let from = port(p.get("fromPort"), &format!("{at}.fromPort"))?;
        let to = port(p.get("toPort"), &format!("{at}.toPort"))?;
        for (sources, key) in [
            ("ipRanges", "cidrIp"),
            ("ipv6Ranges", "cidrIpv6"),
            ("prefixListIds", "prefixListId"),
        ] {
            let Some(list) = p.get(sources) else { continue };
            for (j, r) in items(list, &format!("{at}.{sources}"))?.iter().enumerate() {
                let source = r
                    .get(key)
                    .and_then(Value::as_str)
                    .ok_or_else(|| missing(&format!("{at}.{sources}.items[{j}].{key}")))?;
                rules.push(rule(&protocol, from, to, source, r.get("description")));
            }
        }
    }
    // The older single-rule form: `cidrIp`, `ipProtocol`, `fromPort`, `toPort` beside the group,
    // read whether or not an (empty) `ipPermissions` comes with it. Its other form names a
    // source group (`sourceSecurityGroupName`, `sourceSecurityGroupOwnerId`): no address range,
    // nothing opened to the world.
    let source_group = ["sourceSecurityGroupName", "sourceSecurityGroupOwnerId"]
        .iter()
        .any(|k| params.get(k).is_some_and(|v| !v.is_null()));
    match params.get("cidrIp").filter(|v| !v.is_null()) {
        Some(cidr) => {
            let cidr = cidr
                .as_str()
                .ok_or_else(|| invalid("requestParameters.cidrIp", "not a string"))?;
            let protocol = params
                .get("ipProtocol")
                .and_then(scalar)
                .ok_or_else(|| missing("requestParameters.ipProtocol"))?;
            let from = port(params.get("fromPort"), "requestParameters.fromPort")?;
            let to = port(params.get("toPort"), "requestParameters.toPort")?;
            rules.push(rule(&protocol, from, to, cidr, None));
        }
        None if permissions.is_empty() && !source_group => {
            return Err(missing(
                "requestParameters.ipPermissions (or the older form's cidrIp)",
            ));
        }
        None => {}
    }
    attach_rule_ids(call, &mut rules)?;
    Ok(rules)
}

/// A rule as EC2 reports it back (protocol spelled either way, ports absent for all traffic).
pub fn rule(
    protocol: &str,
    from: Option<i32>,
    to: Option<i32>,
    cidr: &str,
    d: Option<&Value>,
) -> OpenedRule {
    let protocol = normalise_protocol(protocol);
    let all = protocol == "-1";
    OpenedRule {
        from_port: if all { None } else { from },
        to_port: if all { None } else { to },
        protocol,
        cidr: cidr.trim().to_string(),
        rule_id: None,
        description: d.and_then(Value::as_str).map(String::from),
    }
}

/// Match each opened rule to the rule id EC2 returned for it.
fn attach_rule_ids(call: &ApiCall, rules: &mut [OpenedRule]) -> Result<(), EventError> {
    let Some(set) = call
        .response_elements
        .as_ref()
        .and_then(|r| r.get("securityGroupRuleSet"))
    else {
        return Ok(());
    };
    for (i, item) in items(set, "responseElements.securityGroupRuleSet")?
        .iter()
        .enumerate()
    {
        let at = format!("responseElements.securityGroupRuleSet.items[{i}]");
        let Some(id) = item.get("securityGroupRuleId").and_then(Value::as_str) else {
            continue;
        };
        let Some(cidr) = item
            .get("cidrIpv4")
            .or_else(|| item.get("cidrIpv6"))
            .or_else(|| item.get("prefixListId"))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let protocol = item.get("ipProtocol").and_then(scalar).unwrap_or_default();
        let from = port(item.get("fromPort"), &format!("{at}.fromPort"))?;
        let to = port(item.get("toPort"), &format!("{at}.toPort"))?;
        if let Some(rule) = rules
            .iter_mut()
            .find(|r| r.rule_id.is_none() && r.same_rule(&protocol, from, to, cidr))
        {
            rule.rule_id = Some(id.to_string());
        }
    }
    Ok(())
}

/// One rule a `ModifySecurityGroupRules` call changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModifiedRule {
    pub rule_id: String,
    /// What the call's text says the rule became, for people only: the rule is judged as EC2
    /// has it when read. `None` when it names no address range (another group) or cannot be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed: Option<OpenedRule>,
}

/// The group and the rules a `ModifySecurityGroupRules` call changed.
pub fn modified_rules(call: &ApiCall) -> Result<(String, Vec<ModifiedRule>), EventError> {
    const MODIFY: &str = "ModifySecurityGroupRules";
    let missing = |field: &str| {
        EventError::missing(format!("detail.requestParameters.{field} (in {MODIFY})"))
    };
    let request = call
        .request_parameters
        .as_ref()
        .and_then(|p| key(p, "ModifySecurityGroupRulesRequest"))
        .ok_or_else(|| missing("ModifySecurityGroupRulesRequest"))?;
    let at = "ModifySecurityGroupRulesRequest";
    let group_id = key(request, "GroupId")
        .and_then(Value::as_str)
        .filter(|g| !g.trim().is_empty())
        .ok_or_else(|| missing(&format!("{at}.GroupId")))?
        .to_string();
    let changes: &[Value] = match key(request, "SecurityGroupRule") {
        Some(Value::Array(list)) => list,
        Some(v @ Value::Object(o)) if o.contains_key("items") => {
            items(v, &format!("{at}.SecurityGroupRule"))?
        }
        Some(one @ Value::Object(_)) => std::slice::from_ref(one),
        Some(Value::Null) | None => &[],
        Some(_) => {
            return Err(invalid(
                &format!("requestParameters.{at}.SecurityGroupRule"),
                "not a rule or a list of rules",
            ));
        }
    };
    if changes.is_empty() {
        return Err(missing(&format!("{at}.SecurityGroupRule")));
    }
    let rules = changes
        .iter()
        .enumerate()
        .map(|(i, change)| {
            let rule_id = key(change, "SecurityGroupRuleId")
                .and_then(Value::as_str)
                .filter(|id| !id.trim().is_empty())
                .ok_or_else(|| {
                    missing(&format!("{at}.SecurityGroupRule[{i}].SecurityGroupRuleId"))
                })?
                .to_string();
            let claimed = key(change, "SecurityGroupRule").and_then(claimed_rule);
            Ok(ModifiedRule { rule_id, claimed })
        })
        .collect::<Result<Vec<_>, EventError>>()?;
    Ok((group_id, rules))
}

/// Whether a `ModifySecurityGroupRules` call says it changed nothing (`return` false).
pub fn modify_returned_false(call: &ApiCall) -> bool {
    let returned = call
        .response_elements
        .as_ref()
        .and_then(|r| key(r, "ModifySecurityGroupRulesResponse"))
        .and_then(|r| key(r, "return"));
    match returned {
        Some(Value::Bool(b)) => !b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("false"),
        _ => false,
    }
}

/// What the call's text says a rule became, when it names an address range.
fn claimed_rule(v: &Value) -> Option<OpenedRule> {
    let protocol = key(v, "IpProtocol").and_then(scalar)?;
    let from = port(key(v, "FromPort"), "").ok()?;
    let to = port(key(v, "ToPort"), "").ok()?;
    let source = ["CidrIpv4", "CidrIpv6", "PrefixListId"]
        .iter()
        .find_map(|k| key(v, k).and_then(Value::as_str))?;
    Some(rule(&protocol, from, to, source, key(v, "Description")))
}

/// A member of an object by name, whatever its capitalisation (`GroupId`, `groupId`).
fn key<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    let o = v.as_object()?;
    o.get(name).or_else(|| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// CloudTrail's list wrapper: `{"items": [...]}`; `{}` is an empty list.
fn items<'a>(v: &'a Value, at: &str) -> Result<&'a [Value], EventError> {
    match v {
        Value::Object(o) => match o.get("items") {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            Some(_) => Err(invalid(&format!("{at}.items"), "not a list")),
        },
        Value::Null => Ok(&[]),
        _ => Err(invalid(at, "not an object with `items`")),
    }
}

/// A port as CloudTrail writes it (a number, sometimes a string); absent is `None`.
fn port(v: Option<&Value>, at: &str) -> Result<Option<i32>, EventError> {
    let n = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(_) => None,
    };
    match n {
        Some(n) if (-1..=65535).contains(&n) => Ok(Some(n as i32)),
        _ => Err(invalid(at, "not a port number")),
    }
}

/// A string or number as text (`ipProtocol` is `"tcp"` or `"6"`, sometimes `6`).
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn missing(field: &str) -> EventError {
    EventError::MissingField {
        field: format!("detail.{field} (in AuthorizeSecurityGroupIngress)"),
    }
}

fn invalid(field: &str, reason: &str) -> EventError {
    EventError::InvalidField {
        field: format!("detail.{field}"),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(request: Value, response: Value) -> ApiCall {
        serde_json::from_value(json!({
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/mallory"},
            "eventSource": "ec2.amazonaws.com", "eventName": "AuthorizeSecurityGroupIngress",
            "awsRegion": "us-east-1", "requestParameters": request, "responseElements": response
        }))
        .unwrap()
    }

    #[test]
    fn rule_ids_are_matched_to_the_permissions_they_belong_to() {
        let c = call(
            json!({"groupId": "sg-1", "ipPermissions": {"items": [
                {"ipProtocol": "6", "fromPort": 22, "toPort": 22, "groups": {},
                 "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}, {"cidrIp": "10.0.0.0/8"}]},
                 "ipv6Ranges": {"items": [{"cidrIpv6": "::/0"}]}, "prefixListIds": {}}]}}),
            json!({"_return": true, "securityGroupRuleSet": {"items": [
                {"groupId": "sg-1", "securityGroupRuleId": "sgr-v6", "isEgress": false,
                 "ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv6": "::/0"},
                {"groupId": "sg-1", "securityGroupRuleId": "sgr-v4", "isEgress": false,
                 "ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0"}]}}),
        );
        let rules = opened_rules(&c).unwrap();
        let ids: Vec<_> = rules.iter().map(|r| r.rule_id.as_deref()).collect();
        assert_eq!(ids, [Some("sgr-v4"), None, Some("sgr-v6")]);
        assert_eq!(rules[0].protocol, "tcp");
        assert_eq!(group_id(&c).unwrap(), "sg-1");
    }

    #[test]
    fn the_single_rule_form_is_read_too() {
        let c = call(
            json!({"groupId": "sg-1", "ipProtocol": "tcp", "fromPort": 3389, "toPort": 3389, "cidrIp": "0.0.0.0/0"}),
            Value::Null,
        );
        let rules = opened_rules(&c).unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].ports(), "tcp 3389");
        assert_eq!(rules[0].cidr, "0.0.0.0/0");
    }

    #[test]
    fn the_single_rule_form_beside_empty_permissions_and_a_group_named_not_by_id_are_read() {
        // The default VPC's group by name, the rule in the older form, `ipPermissions` empty;
        // the group's id is in the response.
        let c = call(
            json!({"groupName": "default", "ipPermissions": {}, "ipProtocol": "tcp",
                   "fromPort": 22, "toPort": 22, "cidrIp": "0.0.0.0/0"}),
            json!({"_return": true, "securityGroupRuleSet": {"items": [
                {"groupId": "sg-default", "securityGroupRuleId": "sgr-1", "isEgress": false,
                 "ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0"}]}}),
        );
        let rules = opened_rules(&c).unwrap();
        assert_eq!(rules.len(), 1, "{rules:?}");
        assert_eq!(rules[0].rule_id.as_deref(), Some("sgr-1"));
        assert_eq!(rules[0].ports(), "tcp 22");
        assert_eq!(group_id(&c).unwrap(), "sg-default");
        // The same form naming a source group opens nothing to the world: no rule, no error.
        let c = call(
            json!({"groupName": "default", "sourceSecurityGroupName": "web",
                   "sourceSecurityGroupOwnerId": "123456789012"}),
            Value::Null,
        );
        assert_eq!(opened_rules(&c).unwrap(), []);
    }

    #[test]
    fn malformed_permissions_are_named() {
        let err = opened_rules(&call(json!({"groupId": "sg-1"}), Value::Null)).unwrap_err();
        assert!(
            err.to_string().contains("requestParameters.ipPermissions"),
            "{err}"
        );
        let err = opened_rules(&call(
            json!({"groupId": "sg-1", "ipPermissions": {"items": [{"fromPort": 22}]}}),
            Value::Null,
        ))
        .unwrap_err();
        assert!(err.to_string().contains("items[0].ipProtocol"), "{err}");
        let err = opened_rules(&call(
            json!({"groupId": "sg-1", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": "ssh"}]}}),
            Value::Null,
        ))
        .unwrap_err();
        assert_eq!(err.error_type(), "InvalidField");
        let err = group_id(&call(json!({"groupName": "web"}), Value::Null)).unwrap_err();
        assert!(err.to_string().contains("groupId"), "{err}");
    }

    #[test]
    fn the_older_form_as_sdk_scripts_send_it_is_the_rule_it_opens() {
        // As CloudTrail records it: `ipPermissions` empty, the rule beside it, the CIDR with its
        // host bits (EC2 takes `1.2.3.4/0` as the whole internet).
        let c = call(
            json!({"groupId": "sg-1", "ipPermissions": {}, "ipProtocol": "tcp",
                   "fromPort": 22, "toPort": 22, "cidrIp": "208.236.235.254/0"}),
            json!({"_return": true, "securityGroupRuleSet": {"items": [
                {"groupId": "sg-1", "securityGroupRuleId": "sgr-1", "isEgress": false,
                 "ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
                 "cidrIpv4": "208.236.235.254/0"}]}}),
        );
        let rules = opened_rules(&c).unwrap();
        assert_eq!(rules.len(), 1, "{rules:?}");
        assert_eq!(rules[0].ports(), "tcp 22");
        assert_eq!(rules[0].rule_id.as_deref(), Some("sgr-1"));
        assert!(rules[0].same_rule("6", Some(22), Some(22), "0.0.0.0/0"));
        // Without `ipPermissions` at all, and all traffic with no ports.
        let c = call(
            json!({"groupId": "sg-1", "ipProtocol": "-1", "cidrIp": "0.0.0.0/0"}),
            Value::Null,
        );
        assert_eq!(opened_rules(&c).unwrap()[0].ports(), "all traffic");
    }

    #[test]
    fn a_source_group_in_either_form_opens_nothing_to_the_world() {
        for request in [
            json!({"groupId": "sg-1", "ipPermissions": {}, "sourceSecurityGroupOwnerId": "123456789012",
                   "sourceSecurityGroupName": "web"}),
            json!({"groupId": "sg-1", "ipPermissions": {"items": [{"ipProtocol": "tcp",
                   "fromPort": 22, "toPort": 22, "groups": {"items": [{"groupId": "sg-2"}]},
                   "ipRanges": {}, "ipv6Ranges": {}, "prefixListIds": {}}]}}),
        ] {
            assert_eq!(opened_rules(&call(request, Value::Null)).unwrap(), []);
        }
    }

    #[test]
    fn a_call_in_neither_form_is_refused() {
        for request in [
            json!({"groupId": "sg-1"}),
            json!({"groupId": "sg-1", "ipPermissions": {}}),
            json!({"groupId": "sg-1", "ipPermissions": {"items": []}, "fromPort": 22}),
        ] {
            let err = opened_rules(&call(request.clone(), Value::Null)).unwrap_err();
            assert_eq!(err.error_type(), "MissingField", "{request}");
            assert!(err.to_string().contains("ipPermissions"), "{err}");
        }
        // The older form without its protocol, or with a CIDR that is not text.
        let err = opened_rules(&call(
            json!({"groupId": "sg-1", "ipPermissions": {}, "cidrIp": "0.0.0.0/0", "fromPort": 22}),
            Value::Null,
        ))
        .unwrap_err();
        assert!(
            err.to_string().contains("requestParameters.ipProtocol"),
            "{err}"
        );
        let err = opened_rules(&call(
            json!({"groupId": "sg-1", "ipProtocol": "tcp", "cidrIp": ["0.0.0.0/0"]}),
            Value::Null,
        ))
        .unwrap_err();
        assert_eq!(err.error_type(), "InvalidField");
    }

    #[test]
    fn ipv6_and_prefix_list_sources_are_read_with_their_rule_ids() {
        let c = call(
            json!({"groupId": "sg-1", "ipPermissions": {"items": [
                {"ipProtocol": "tcp", "fromPort": 3389, "toPort": 3389, "groups": {}, "ipRanges": {},
                 "ipv6Ranges": {"items": [{"cidrIpv6": "::/0", "description": "rdp"}]},
                 "prefixListIds": {"items": [{"prefixListId": "pl-0123456789abcdef0"}]}}]}}),
            json!({"_return": true, "securityGroupRuleSet": {"items": [
                {"groupId": "sg-1", "securityGroupRuleId": "sgr-pl", "isEgress": false,
                 "ipProtocol": "tcp", "fromPort": 3389, "toPort": 3389,
                 "prefixListId": "pl-0123456789abcdef0"},
                {"groupId": "sg-1", "securityGroupRuleId": "sgr-v6", "isEgress": false,
                 "ipProtocol": "tcp", "fromPort": 3389, "toPort": 3389, "cidrIpv6": "::/0"}]}}),
        );
        let rules = opened_rules(&c).unwrap();
        let shown: Vec<(String, Option<&str>)> = rules
            .iter()
            .map(|r| (r.source(), r.rule_id.as_deref()))
            .collect();
        assert_eq!(
            shown,
            [
                ("::/0".to_string(), Some("sgr-v6")),
                (
                    "prefix list pl-0123456789abcdef0".to_string(),
                    Some("sgr-pl")
                ),
            ]
        );
        assert!(rules[0].is_ipv6() && rules[0].prefix_list().is_none());
        assert_eq!(rules[1].prefix_list(), Some("pl-0123456789abcdef0"));
        // The undo puts the prefix list back, not an address range.
        assert_eq!(
            rules[1].ip_permission(),
            json!({"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389,
                   "PrefixListIds": [{"PrefixListId": "pl-0123456789abcdef0"}]})
        );
        assert_eq!(
            rules[0].ip_permission()["Ipv6Ranges"],
            json!([{"CidrIpv6": "::/0", "Description": "rdp"}])
        );
    }

    fn modify(request: Value, response: Value) -> ApiCall {
        let mut c = call(request, response);
        c.event_name = "ModifySecurityGroupRules".into();
        c
    }

    #[test]
    fn modify_security_group_rules_is_read_as_cloudtrail_records_it() {
        let c = modify(
            json!({"ModifySecurityGroupRulesRequest": {"GroupId": "sg-1", "SecurityGroupRule": {
                "SecurityGroupRuleId": "sgr-1", "SecurityGroupRule": {"IpProtocol": "tcp",
                "FromPort": 22, "ToPort": 22, "CidrIpv4": "0.0.0.0/0", "Description": "ssh"}}}}),
            json!({"ModifySecurityGroupRulesResponse": {"requestId": "r", "return": true}}),
        );
        let (group, rules) = modified_rules(&c).unwrap();
        assert_eq!(group, "sg-1");
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].rule_id, "sgr-1");
        let claimed = rules[0].claimed.as_ref().unwrap();
        assert_eq!(
            (claimed.ports(), claimed.source()),
            ("tcp 22".into(), "0.0.0.0/0".into())
        );
        assert!(!modify_returned_false(&c));
        // Several rules as a list, keys in another capitalisation, ports as text, a rule made
        // to reference another group (nothing claimed), `return` false.
        let c = modify(
            json!({"ModifySecurityGroupRulesRequest": {"groupId": "sg-1", "securityGroupRule": [
                {"securityGroupRuleId": "sgr-1", "securityGroupRule": {"ipProtocol": "tcp",
                 "fromPort": "22", "toPort": "22", "cidrIpv6": "::/0"}},
                {"SecurityGroupRuleId": "sgr-2", "SecurityGroupRule": {"IpProtocol": "tcp",
                 "FromPort": 22, "ToPort": 22, "ReferencedGroupId": "sg-2"}}]}}),
            json!({"ModifySecurityGroupRulesResponse": {"return": "false"}}),
        );
        let (_, rules) = modified_rules(&c).unwrap();
        let ids: Vec<&str> = rules.iter().map(|r| r.rule_id.as_str()).collect();
        assert_eq!(ids, ["sgr-1", "sgr-2"]);
        assert_eq!(rules[0].claimed.as_ref().unwrap().source(), "::/0");
        assert_eq!(rules[1].claimed, None);
        assert!(modify_returned_false(&c));
    }

    #[test]
    fn a_malformed_modify_security_group_rules_is_refused_naming_the_field() {
        for (request, field) in [
            (
                json!({"GroupId": "sg-1"}),
                "ModifySecurityGroupRulesRequest",
            ),
            (
                json!({"ModifySecurityGroupRulesRequest": {"SecurityGroupRule": {"SecurityGroupRuleId": "sgr-1"}}}),
                "ModifySecurityGroupRulesRequest.GroupId",
            ),
            (
                json!({"ModifySecurityGroupRulesRequest": {"GroupId": "sg-1"}}),
                "ModifySecurityGroupRulesRequest.SecurityGroupRule",
            ),
            (
                json!({"ModifySecurityGroupRulesRequest": {"GroupId": "sg-1", "SecurityGroupRule": [{"SecurityGroupRule": {}}]}}),
                "SecurityGroupRule[0].SecurityGroupRuleId",
            ),
        ] {
            let err = modified_rules(&modify(request, Value::Null)).unwrap_err();
            assert_eq!(err.error_type(), "MissingField", "{field}");
            assert!(err.to_string().contains(field), "{err}");
            assert!(
                err.to_string().contains("ModifySecurityGroupRules)"),
                "{err}"
            );
        }
        let err = modified_rules(&modify(
            json!({"ModifySecurityGroupRulesRequest": {"GroupId": "sg-1", "SecurityGroupRule": "sgr-1"}}),
            Value::Null,
        ))
        .unwrap_err();
        assert_eq!(err.error_type(), "InvalidField");
    }
}
