//! Reading an `AuthorizeSecurityGroupIngress` call as CloudTrail records it (once, by `trigger`);
//! `world_open` judges what it opened. Pure: no AWS calls.
//!
//! CloudTrail's shape: `requestParameters.groupId` (or `groupName`),
//! `requestParameters.ipPermissions.items[]` each with `ipProtocol`, `fromPort`, `toPort`,
//! `ipRanges.items[].cidrIp` and `ipv6Ranges.items[].cidrIpv6`; and in `responseElements`,
//! `securityGroupRuleSet.items[]` with the `securityGroupRuleId` of every rule created.

use reflex_shared::{ApiCall, EventError};
use serde::Serialize;
use serde_json::Value;

/// One source CIDR allowed in on a protocol and port range: one security group rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenedRule {
    /// Normalised: `tcp`, `udp`, `icmp`, `icmpv6`, `-1` (all traffic) or a protocol number.
    pub protocol: String,
    /// `None` for all traffic (and absent ports).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_port: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_port: Option<i32>,
    /// An IPv4 or IPv6 CIDR.
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
        let mut range = if self.is_ipv6() {
            serde_json::json!({ "CidrIpv6": self.cidr })
        } else {
            serde_json::json!({ "CidrIp": self.cidr })
        };
        if let Some(d) = &self.description {
            range["Description"] = d.clone().into();
        }
        let key = if self.is_ipv6() {
            "Ipv6Ranges"
        } else {
            "IpRanges"
        };
        p[key] = Value::Array(vec![range]);
        p
    }

    /// Whether `other` is this rule (same protocol, ports and source).
    pub fn same_rule(
        &self,
        protocol: &str,
        from: Option<i32>,
        to: Option<i32>,
        cidr: &str,
    ) -> bool {
        let protocol = normalise_protocol(protocol);
        if protocol != self.protocol || !cidr.eq_ignore_ascii_case(&self.cidr) {
            return false;
        }
        protocol == "-1" || (from == self.from_port && to == self.to_port)
    }
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

/// Every CIDR rule the call opened, with its rule id when the response has it.
pub fn opened_rules(call: &ApiCall) -> Result<Vec<OpenedRule>, EventError> {
    let params = call
        .request_parameters
        .as_ref()
        .ok_or_else(|| missing("requestParameters"))?;
    let mut rules = Vec::new();
    let permissions = params.get("ipPermissions");
    if let Some(permissions) = permissions {
        let permissions = items(permissions, "requestParameters.ipPermissions")?;
        for (i, p) in permissions.iter().enumerate() {
            let at = format!("requestParameters.ipPermissions.items[{i}]");
            let protocol = p
                .get("ipProtocol")
                .and_then(scalar)
                .ok_or_else(|| missing(&format!("{at}.ipProtocol")))?;
            let from = port(p.get("fromPort"), &format!("{at}.fromPort"))?;
            let to = port(p.get("toPort"), &format!("{at}.toPort"))?;
            for (ranges, key) in [("ipRanges", "cidrIp"), ("ipv6Ranges", "cidrIpv6")] {
                let Some(list) = p.get(ranges) else { continue };
                for (j, r) in items(list, &format!("{at}.{ranges}"))?.iter().enumerate() {
                    let cidr = r
                        .get(key)
                        .and_then(Value::as_str)
                        .ok_or_else(|| missing(&format!("{at}.{ranges}.items[{j}].{key}")))?;
                    rules.push(rule(&protocol, from, to, cidr, r.get("description")));
                }
            }
        }
    }
    // The older single-rule form: `cidrIp`, `ipProtocol`, `fromPort`, `toPort` beside the group,
    // read whether or not an (empty) `ipPermissions` comes with it. Its other form names a
    // source group (`sourceSecurityGroupName`): no CIDR, nothing opened to the world.
    match params.get("cidrIp").and_then(Value::as_str) {
        Some(cidr) => {
            let protocol = params
                .get("ipProtocol")
                .and_then(scalar)
                .ok_or_else(|| missing("requestParameters.ipProtocol"))?;
            let from = port(params.get("fromPort"), "requestParameters.fromPort")?;
            let to = port(params.get("toPort"), "requestParameters.toPort")?;
            rules.push(rule(&protocol, from, to, cidr, None));
        }
        None if permissions.is_none() && params.get("sourceSecurityGroupName").is_none() => {
            return Err(missing("requestParameters.ipPermissions"));
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
}
